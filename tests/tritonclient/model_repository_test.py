"""Unmodified tritonclient against convd following its repository's files.

Usage: model_repository_test.py CONVD_BINARY MODEL_REPOSITORY
Copies the repository's lenet5 into a fresh repository and starts convd on
it with --model-control=poll --repository-poll-secs=1 --triton-metrics.
Then, as a Triton user would: a folder holding only model.onnx is moved in
and serves with its config completed from the file (what lenet5 answers,
as the same file); the API's load is refused, saying why; a second version
moved in replaces the first; /metrics counts the requests under Triton's
names; a model configured with priority levels takes tritonclient's
`priority` over both protocols and refuses one beyond its levels; a removed
model stops serving while the server stays ready.
Exits non-zero on failure.
"""
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from convd_process import check, start_convd, stop_convd


def eventually(condition, seconds=20):
    """Polls `condition` until it holds (files settle for 1 s, then a poll)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def move_in(source_onnx, destination, scratch):
    """Writes a version folder elsewhere and renames it into place whole."""
    staging = tempfile.mkdtemp(dir=scratch)
    shutil.copy(source_onnx, os.path.join(staging, "model.onnx"))
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    os.rename(staging, destination)


def move_in_model(source_onnx, destination, config, scratch):
    """A model folder with version 1 and `config`, renamed into place whole."""
    staging = tempfile.mkdtemp(dir=scratch)
    os.makedirs(os.path.join(staging, "1"))
    shutil.copy(source_onnx, os.path.join(staging, "1", "model.onnx"))
    with open(os.path.join(staging, "config.pbtxt"), "w") as f:
        f.write(config)
    os.rename(staging, destination)


def infer(client, model, images, version="", priority=0):
    module = grpcclient if isinstance(client, grpcclient.InferenceServerClient) else httpclient
    inputs = [module.InferInput("input", list(images.shape), "FP32")]
    inputs[0].set_data_from_numpy(images)
    return client.infer(model, inputs, model_version=version,
                        priority=priority).as_numpy("prob")


def refusal(call):
    """The InferenceServerException `call` raises, or None."""
    try:
        call()
    except InferenceServerException as error:
        return error
    return None


def main():
    binary, bundled = sys.argv[1], sys.argv[2]
    scratch = tempfile.mkdtemp()
    repository = os.path.join(scratch, "models")
    os.makedirs(repository)
    shutil.copytree(os.path.join(bundled, "lenet5"), os.path.join(repository, "lenet5"))
    onnx = os.path.join(bundled, "lenet5", "1", "model.onnx")
    process, grpc_port, http_port, log = start_convd(
        binary, repository,
        ["--model-control=poll", "--repository-poll-secs=1", "--triton-metrics",
         "--log-level=debug"])
    metrics_port = int(re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics",
                                 open(log.name).read()).group(1))
    grpc = grpcclient.InferenceServerClient(url=f"127.0.0.1:{grpc_port}")
    http = httpclient.InferenceServerClient(url=f"127.0.0.1:{http_port}")
    images = np.random.default_rng().uniform(0, 1, size=(3, 1, 28, 28)).astype(np.float32)
    results = []
    try:
        results.append(check("lenet5 ready", grpc.is_model_ready("lenet5")))
        # As Triton answers: an unknown model is not ready, and no error.
        results.append(check("a model not (yet) in the repository is not ready",
                             not grpc.is_model_ready("dropped")
                             and not http.is_model_ready("dropped")))

        move_in(onnx, os.path.join(repository, "dropped", "1"), scratch)
        results.append(check("a folder holding only model.onnx comes to serve",
                             eventually(lambda: grpc.is_model_ready("dropped"))))
        config = http.get_model_config("dropped")
        results.append(check("its config is completed from the file (HTTP)",
                             config.get("platform") == "onnx"
                             and config.get("max_batch_size") == 4
                             and config["input"][0]["name"] == "input"
                             and config["input"][0]["dims"] == [1, 28, 28]
                             and config["output"][0]["name"] == "prob", config))
        grpc_config = grpc.get_model_config("dropped", as_json=True)["config"]
        results.append(check("... and over gRPC", grpc_config.get("platform") == "onnx"
                             and grpc_config["output"][0]["name"] == "prob", grpc_config))
        dropped, lenet5 = infer(grpc, "dropped", images), infer(grpc, "lenet5", images)
        results.append(check("it answers what lenet5 (the same file) answers",
                             dropped.shape == (3, 10) and np.allclose(dropped, lenet5, atol=1e-5),
                             np.abs(dropped - lenet5).max()))

        try:
            grpc.load_model("dropped")
            results.append(check("the API's load is refused while polling", False, "loaded"))
        except InferenceServerException as error:
            results.append(check("the API's load is refused while polling",
                                 "--model-control=poll" in error.message(), error.message()))

        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read().decode()
        results.append(check("/metrics counts it under Triton's names",
                             'nv_inference_request_success{model="dropped",version="1"} 1\n'
                             in metrics and 'nv_inference_count{model="dropped",version="1"} 3\n'
                             in metrics,
                             [line for line in metrics.splitlines() if line.startswith("nv_") and "dropped" in line][:4]))

        move_in(onnx, os.path.join(repository, "dropped", "2"), scratch)
        results.append(check("a second version moved in comes to serve",
                             eventually(lambda: grpc.is_model_ready("dropped", "2"))))
        results.append(check("... in place of the first (latest policy)",
                             not grpc.is_model_ready("dropped", "1")))
        results.append(check("... and answers the same", np.allclose(
            infer(grpc, "dropped", images, "2"), lenet5, atol=1e-5)))

        # Priority levels, as a Triton user configures and sends them.
        move_in_model(onnx, os.path.join(repository, "urgent"), """
            max_batch_size: 8
            dynamic_batching {
              priority_levels: 2
              default_priority_level: 2
              priority_queue_policy { key: 1 value { max_queue_size: 4 } }
            }""", scratch)
        results.append(check("a model with priority levels comes to serve",
                             eventually(lambda: grpc.is_model_ready("urgent"))))
        batching = http.get_model_config("urgent").get("dynamic_batching", {})
        results.append(check("its config shows the levels and their policies",
                             str(batching.get("priority_levels")) == "2"
                             and str(batching.get("default_priority_level")) == "2"
                             and batching.get("priority_queue_policy", {}).get("1", {})
                             .get("max_queue_size") == 4, batching))
        results.append(check("priority=1 over gRPC and HTTP answers as lenet5 does",
                             np.allclose(infer(grpc, "urgent", images, priority=1), lenet5,
                                         atol=1e-5)
                             and np.allclose(infer(http, "urgent", images, priority=1), lenet5,
                                             atol=1e-5)))
        access = [line for line in open(log.name).read().splitlines()
                  if 'model="urgent"' in line and " access " in line]
        results.append(check("the access log names each request's level",
                             len(access) == 2 and all(line.endswith(" priority=1")
                                                      for line in access), access))
        for client, code in ((grpc, "StatusCode.INVALID_ARGUMENT"), (http, "400")):
            error = refusal(lambda: infer(client, "urgent", images, priority=3))
            results.append(check(f"priority=3 is refused, naming the range ({code})",
                                 error is not None and error.status() == code
                                 and "outside [1, priority_levels 2]" in error.message(),
                                 error and (error.status(), error.message())))

        shutil.rmtree(os.path.join(repository, "lenet5"))
        results.append(check("a removed model stops serving",
                             eventually(lambda: not grpc.is_model_ready("lenet5"))))
        index = [entry["name"] for entry in http.get_model_repository_index()]
        results.append(check("... and leaves the index", index == ["dropped", "urgent"], index))
        results.append(check("the server stays ready", grpc.is_server_ready()
                             and http.is_server_ready()))
        results.append(check("the rest still serves", np.allclose(
            infer(grpc, "dropped", images), lenet5, atol=1e-5)))
    finally:
        grpc.close()
        http.close()
        stop_convd(process, log, results, "tritonclient (model repository)")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
