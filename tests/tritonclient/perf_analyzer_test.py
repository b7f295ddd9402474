"""Unmodified perf_analyzer against a real convd on loopback.

Usage: perf_analyzer_test.py PERF_ANALYZER CONVD_BINARY MODEL_REPOSITORY

perf_analyzer is Triton's C++ load tool (the binary in the tritonclient
2.41.0 manylinux wheel). Each run below must exit 0, and the server's own
counts, which perf_analyzer reads through the statistics extension, must
agree with the client's. The runs at batch 1 and concurrency 1 also give
perf_analyzer the exact answer to expect (--input-data with
validation_data), so every one of their thousands of responses is checked
byte for byte. Last, a second convd with mutual TLS on gRPC and the
inference API restricted: perf_analyzer's own --ssl-grpc-* and -H flags
reach it, and without the header it is refused naming it. Prints one line
per check; exits non-zero on failure.
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import urllib.request
from importlib.util import find_spec

from convd_process import check, make_test_certs, mutual_tls_flags, start_convd, stop_convd

MODEL = "lenet5"
IMAGE_ELEMENTS = 28 * 28


def rest(http_port, path, body=None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{http_port}/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def validation_data(http_port, directory):
    """A random image and the server's answer to it, as perf_analyzer input data."""
    image = [random.random() for _ in range(IMAGE_ELEMENTS)]
    answer = rest(http_port, f"v2/models/{MODEL}/infer", {"inputs": [
        {"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": image}]})
    prob = answer["outputs"][0]["data"]
    path = os.path.join(directory, "validation.json")
    with open(path, "w") as f:
        json.dump({"data": [{"input": {"content": image, "shape": [1, 28, 28]}}],
                   "validation_data": [{"prob": {"content": prob}}]}, f)
    return path, prob


def parse_windows(output):
    """Per concurrency or rate: client requests and the server's counts."""
    windows = []
    # Each load's report opens with its own line; the closing summary's lines
    # ("Request Rate: 300, throughput ...") are not reports.
    headers = r"\n(?=Request (?:concurrency: [\d.]+|Rate: [\d.]+ inference requests per seconds?)\n)"
    for block in re.split(headers, output)[1:]:
        load = re.match(r"Request (?:concurrency|Rate): ([\d.]+)", block)
        numbers = {key: int(re.search(pattern, block).group(1)) for key, pattern in {
            "client": r"Client:\s+Request count: (\d+)",
            "inferences": r"Inference count: (\d+)",
            "executions": r"Execution count: (\d+)",
            "server": r"Successful request count: (\d+)"}.items()
            if re.search(pattern, block)}
        numbers["load"] = float(load.group(1))
        windows.append(numbers)
    return windows


def run_perf_analyzer(binary, name, args, batch, results):
    """Runs one perf_analyzer load; checks its exit and its counts."""
    # Stability is perf_analyzer's measurement, not what is tested here, and
    # a shared 2-core machine is too noisy for its default 10%.
    command = [binary, "-m", args.get("model", MODEL), "-b", str(batch),
               "--measurement-mode", "count_windows", "--measurement-request-count", "50",
               "--stability-percentage", "1000", *args["flags"]]
    run = subprocess.run(command, capture_output=True, text=True, timeout=240)
    output = run.stdout + run.stderr
    checks = [check(f"{name}: exits 0", run.returncode == 0, run.returncode),
              # Its clean-up unregisters system and CUDA regions and prints
              # only when either fails.
              check(f"{name}: cleans up without an error", "Unable to" not in output)]
    windows = parse_windows(output)
    checks.append(check(f"{name}: reports every load", len(windows) == args["loads"] and
                        all(len(w) == 5 and w["client"] > 0 for w in windows), windows))
    for w in windows:
        # A window's server counts are read when it opens and closes, while
        # the load goes on: requests in flight then, and those answered while
        # the statistics are being read (a few at 0.1 ms a request), may land
        # on either side of the line. 0.2% of a window's count allows 10 ms of
        # that in a 5 s window.
        client = w.get("client", 0)
        slack = (max(2, int(w["load"]), client // 500) if "rate" not in args else client // 50)
        checks.append(check(
            f"{name} at {w['load']:g}: the server answered what the client sent",
            abs(w.get("server", -1) - w.get("client", 0)) <= slack and
            w.get("inferences") == batch * w.get("server", -1) and
            0 < w.get("executions", 0) <= w.get("server", -1) + slack, w))
    if not all(checks):
        print(output)
    results.extend(checks)


def main():
    perf_analyzer, binary, repository = sys.argv[1:4]
    cuda_runtime = os.path.join(find_spec("nvidia.cuda_runtime").submodule_search_locations[0],
                                "lib")
    os.environ["LD_LIBRARY_PATH"] = ":".join(
        filter(None, [cuda_runtime, os.environ.get("LD_LIBRARY_PATH")]))
    process, grpc_port, http_port, log = start_convd(binary, repository, ["--allow-client-shm"])
    grpc = ["-i", "grpc", "-u", f"127.0.0.1:{grpc_port}"]
    http = ["-i", "http", "-u", f"127.0.0.1:{http_port}"]
    results = []
    with tempfile.TemporaryDirectory() as directory:
        try:
            data, prob = validation_data(http_port, directory)
            results.append(check("the expected answer is a distribution",
                                 len(prob) == 10 and all(0 <= p <= 1 for p in prob) and
                                 abs(sum(prob) - 1) < 1e-5, prob))
            validated = ["--input-data", data, "--concurrency-range", "1"]
            runs = [
                ("grpc, batch 4, concurrency 1 and 2", 4,
                 {"flags": grpc + ["--concurrency-range", "1:2"], "loads": 2}),
                ("grpc, every answer checked", 1, {"flags": grpc + validated, "loads": 1}),
                ("grpc gzip-compressed, every answer checked", 1, {"flags": grpc + validated + [
                    "--grpc-compression-algorithm", "gzip"], "loads": 1}),
                ("grpc streaming, every answer checked", 1,
                 {"flags": grpc + validated + ["--async", "--streaming"], "loads": 1}),
                ("grpc, 300 requests/s", 1,
                 {"flags": grpc + ["--request-rate-range", "300"], "loads": 1, "rate": True}),
                ("grpc, system shared memory", 4,
                 {"flags": grpc + ["--shared-memory", "system", "--output-shared-memory-size",
                                   "160", "--concurrency-range", "2"], "loads": 1}),
                ("grpc, alexnet", 1, {"model": "alexnet", "flags": grpc + [
                    "--concurrency-range", "1", "--measurement-request-count", "8"], "loads": 1}),
                ("http binary, batch 4, concurrency 2", 4,
                 {"flags": http + ["--concurrency-range", "2"], "loads": 1}),
                ("http binary, every answer checked", 1, {"flags": http + validated, "loads": 1}),
                ("http JSON tensors, every answer checked", 1, {"flags": http + validated + [
                    "--input-tensor-format", "json", "--output-tensor-format", "json"],
                    "loads": 1}),
                ("http JSON tensors, random data", 2, {"flags": http + [
                    "--input-tensor-format", "json", "--output-tensor-format", "json"],
                    "loads": 1}),
                ("http, system shared memory", 4,
                 {"flags": http + ["--shared-memory", "system", "--output-shared-memory-size",
                                   "160"], "loads": 1}),
            ]
            for name, batch, args in runs:
                run_perf_analyzer(perf_analyzer, name, args, batch, results)

            missing = subprocess.run([perf_analyzer, "-m", "no_such_model", *grpc],
                                     capture_output=True, text=True, timeout=60)
            results.append(check("an unknown model is refused by name",
                                 missing.returncode != 0 and
                                 "no_such_model" in missing.stdout + missing.stderr,
                                 (missing.stdout + missing.stderr).strip()[-200:]))
            regions = rest(http_port, "v2/systemsharedmemory/status")
            results.append(check("perf_analyzer left no shared-memory region", regions == [],
                                 regions))
        finally:
            stop_convd(process, log, results, "perf_analyzer")
    locked_down_checks(perf_analyzer, binary, repository)


def locked_down_checks(perf_analyzer, binary, repository):
    """perf_analyzer's own TLS and header flags against a convd with mutual
    TLS on gRPC and the inference API restricted."""
    results = []
    with tempfile.TemporaryDirectory() as certs:
        cert = make_test_certs(certs)
        process, grpc_port, _, log = start_convd(binary, repository, mutual_tls_flags(cert) + [
            "--grpc-restricted-protocol=inference:infer-key=k3y"])
        try:
            tls = ["-i", "grpc", "-u", f"localhost:{grpc_port}", "--ssl-grpc-use-ssl", "true",
                   "--ssl-grpc-root-certifications-file", cert("ca.pem"),
                   "--ssl-grpc-private-key-file", cert("client.key"),
                   "--ssl-grpc-certificate-chain-file", cert("client.pem")]
            run_perf_analyzer(perf_analyzer, "grpc over mutual TLS with the inference key", {
                "flags": tls + ["-H", "triton-grpc-protocol-infer-key:k3y",
                                "--concurrency-range", "2"], "loads": 1}, 1, results)
            refused = subprocess.run([perf_analyzer, "-m", MODEL, *tls, "--concurrency-range", "1",
                                      "--measurement-mode", "count_windows",
                                      "--measurement-request-count", "20"],
                                     capture_output=True, text=True, timeout=120)
            output = refused.stdout + refused.stderr
            results.append(check("without the key, inference is refused naming the header",
                                 refused.returncode != 0 and
                                 "'triton-grpc-protocol-infer-key'" in output,
                                 output.strip()[-200:]))
        finally:
            stop_convd(process, log, results, "perf_analyzer, TLS and restricted inference")


if __name__ == "__main__":
    main()
