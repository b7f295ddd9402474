#!/usr/bin/env python3
"""Checks docker/ beyond what the generic linters know (make lint-deploy).

hadolint (Dockerfiles), yamllint (all YAML) and kubernetes-validate (the core
Kubernetes kinds, against their schemas) run from the Makefile. This script
adds what they cannot see:
- every --flag given to convd or convctl in the Dockerfiles, compose file and
  manifests is a flag the built binaries accept (asked of the binaries);
- the KServe resources, whose schemas are not in kubernetes-validate, have
  the fields KServe needs, and the InferenceService names the runtime and a
  model format that the ServingRuntime supports;
- probes, ports and EXPOSE agree on 8000 (HTTP), 8001 (gRPC), 8002 (metrics).

Usage: tools/lint_deploy.py BAZEL_BIN   (run from the repository root)
"""
import pathlib
import re
import subprocess
import sys

import yaml

ROOT = pathlib.Path(".")
DOCKER = ROOT / "docker"
problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def known_flags(binary):
    """The flags a binary lists in --helpfull, with dashes as users write them."""
    out = subprocess.run([binary, "--helpfull"], capture_output=True, text=True).stdout
    return {name.replace("_", "-") for name in re.findall(r"^\s+--([a-z0-9_]+)", out, re.M)}


def check_flags(bazel_bin):
    flags = {"convd": known_flags(f"{bazel_bin}/server/convd"),
             "convctl": known_flags(f"{bazel_bin}/client/convctl")}
    if not flags["convd"] or not flags["convctl"]:
        problem(bazel_bin, "cannot list the flags of convd/convctl (build them first)")
        return
    uses = []  # (where, binary, flag)
    for path in DOCKER.glob("Dockerfile*"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path}:{number}"
            if "convctl" in line:  # the HEALTHCHECK command
                for flag in re.findall(r"--([a-z][a-z0-9-]*)", line.split("convctl", 1)[1]):
                    uses.append((where, "convctl", flag))
            elif line.startswith(("CMD", "ENTRYPOINT")):
                for flag in re.findall(r"--([a-z][a-z0-9-]*)", line):
                    uses.append((where, "convd", flag))
    for path in DOCKER.rglob("*.yaml"):
        for doc in load_all(path):
            spec = doc.get("spec", {})
            spec = spec.get("template", {}).get("spec", spec)
            for container in spec.get("containers", []) or []:
                for arg in container.get("args", []):
                    match = re.match(r"--([a-z][a-z0-9-]*)", arg)
                    if match:
                        uses.append((f"{path} ({container.get('name')})", "convd", match.group(1)))
    if not uses:
        problem("docker/", "found no convd flags to check")
    for where, binary, flag in uses:
        if flag not in flags[binary]:
            problem(where, f"{binary} has no flag --{flag}")


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def check_kserve():
    runtimes = {}
    for path in (DOCKER / "k8s" / "kserve").glob("*.yaml"):
        for doc in load_all(path):
            if doc.get("kind") == "ServingRuntime":
                spec = doc.get("spec", {})
                name = doc.get("metadata", {}).get("name")
                containers = spec.get("containers") or []
                if not containers or containers[0].get("name") != "kserve-container":
                    problem(path, "ServingRuntime's first container must be kserve-container")
                if "v2" not in spec.get("protocolVersions", []):
                    problem(path, "ServingRuntime must list protocolVersions v2")
                args = " ".join(containers[0].get("args", [])) if containers else ""
                if "--model-repository=/mnt/models" not in args:
                    problem(path, "KServe puts the model at /mnt/models; pass it to convd")
                if "--http-port=8080" not in args:
                    problem(path, "KServe routes HTTP to port 8080")
                runtimes[name] = {f["name"] for f in spec.get("supportedModelFormats", [])}
    for path in (DOCKER / "k8s" / "kserve").glob("*.yaml"):
        for doc in load_all(path):
            if doc.get("kind") != "InferenceService":
                continue
            model = doc.get("spec", {}).get("predictor", {}).get("model", {})
            runtime = model.get("runtime")
            fmt = model.get("modelFormat", {}).get("name")
            if runtime not in runtimes:
                problem(path, f"runtime {runtime!r} is not a ServingRuntime here")
            elif fmt not in runtimes[runtime]:
                problem(path, f"runtime {runtime} does not support model format {fmt!r}")
            if not model.get("storageUri"):
                problem(path, "InferenceService needs a storageUri")


def check_ports():
    expected = {"http": 8000, "grpc": 8001, "metrics": 8002}
    for dockerfile in DOCKER.glob("Dockerfile*"):
        exposed = re.search(r"^EXPOSE (.*)$", dockerfile.read_text(), re.M)
        if not exposed or sorted(map(int, exposed.group(1).split())) != [8000, 8001, 8002]:
            problem(dockerfile, "EXPOSE must be 8000 8001 8002")
    for doc in load_all(DOCKER / "k8s" / "deployment.yaml"):
        container = doc["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        if ports != expected:
            problem("deployment.yaml", f"container ports {ports}; expected {expected}")
        for probe, path in (("readinessProbe", "/v2/health/ready"),
                            ("livenessProbe", "/v2/health/live")):
            got = container.get(probe, {}).get("httpGet", {})
            if got.get("path") != path or got.get("port") != "http":
                problem("deployment.yaml", f"{probe} must GET {path} on the http port")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    check_flags(sys.argv[1])
    check_kserve()
    check_ports()
    for p in problems:
        print(p)
    print(f"lint_deploy: {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
