"""Unmodified tritonclient[http] against a real convd on loopback.

Usage: http_client_test.py CONVD_BINARY MODEL_REPOSITORY
Starts convd on free ports, runs the checks over HTTP (JSON and the binary
data extension, which tritonclient uses by default; gzip and deflate
bodies and responses; a load with a config; the response cache; traces
and log settings), compares with the
gRPC client's numbers, stops convd with SIGTERM and expects exit status 0.
Prints one line per check; exits non-zero on failure.
"""
import json
import os
import re
import sys
import tempfile
import time
import urllib.request

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from compression_checks import compression_checks
from convd_process import check, start_convd, stop_convd
from logging_checks import logging_checks
from shm_checks import shared_memory_checks
from trace_checks import trace_checks


def cache_entries(log):
    """convd_cache_entries from /metrics, on the port convd's log names."""
    port = re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", open(log.name).read())
    text = urllib.request.urlopen(f"http://127.0.0.1:{port.group(1)}/metrics").read().decode()
    return int(float(re.search(r"^convd_cache_entries (\S+)$", text, re.M).group(1)))


def main():
    binary, repository = sys.argv[1], sys.argv[2]
    trace_dir = tempfile.mkdtemp()
    trace_file = os.path.join(trace_dir, "trace.json")
    process, grpc_port, http_port, log = start_convd(
        binary, repository,
        ["--allow-client-shm", "--model-control=explicit", f"--trace-file={trace_file}",
         "--cache-config=local,size=4194304"])
    client = httpclient.InferenceServerClient(url=f"127.0.0.1:{http_port}", concurrency=4)
    grpc = grpcclient.InferenceServerClient(url=f"127.0.0.1:{grpc_port}")
    results = []
    try:
        results.append(check("server live", client.is_server_live()))
        results.append(check("server ready", client.is_server_ready()))
        metadata = client.get_server_metadata()
        results.append(check("server metadata", metadata["name"] == "convd", metadata["name"]))
        results.append(check("model ready", client.is_model_ready("lenet5")))
        model = client.get_model_metadata("lenet5")
        results.append(check("model metadata shape",
                             model["inputs"][0]["shape"] == [-1, 1, 28, 28],
                             model["inputs"][0]["shape"]))
        config = client.get_model_config("lenet5")
        results.append(check("model config", config["max_batch_size"] == 64 and
                             config["input"][0]["dims"] == [1, 28, 28], config["max_batch_size"]))
        results.append(check("model config optimization",
                             config.get("optimization", {}).get("cuda", {}).get("graphs") is True,
                             config.get("optimization")))
        index = client.get_model_repository_index()
        results.append(check("repository index", any(m["name"] == "lenet5" for m in index), index))

        rng = np.random.default_rng()
        images = rng.uniform(0.0, 1.0, size=(4, 1, 28, 28)).astype(np.float32)
        grpc_input = grpcclient.InferInput("input", list(images.shape), "FP32")
        grpc_input.set_data_from_numpy(images)
        expected = grpc.infer("lenet5", [grpc_input]).as_numpy("prob")
        for binary_data in (True, False):
            infer_input = httpclient.InferInput("input", list(images.shape), "FP32")
            infer_input.set_data_from_numpy(images, binary_data=binary_data)
            outputs = [httpclient.InferRequestedOutput("prob", binary_data=binary_data)]
            result = client.infer("lenet5", [infer_input], outputs=outputs, request_id="h-1")
            probabilities = result.as_numpy("prob")
            kind = "binary" if binary_data else "JSON"
            results.append(check(f"{kind} infer equals gRPC",
                                 probabilities is not None and
                                 np.array_equal(probabilities, expected)))
            results.append(check(f"{kind} request id echoed",
                                 result.get_response()["id"] == "h-1"))

        infer_input = httpclient.InferInput("input", list(images.shape), "FP32")
        infer_input.set_data_from_numpy(images)
        classified = client.infer(
            "lenet5", [infer_input], outputs=[httpclient.InferRequestedOutput("prob", class_count=3)])
        top = classified.as_numpy("prob")
        results.append(check("classification shape", top.shape == (4, 3), top.shape))
        best = [int(row[0].decode().split(":")[1]) for row in top]
        results.append(check("classification top-1 is the argmax",
                             best == list(np.argmax(expected, axis=1)), best))

        pending = [client.async_infer("lenet5", [infer_input]) for _ in range(16)]
        rows = [p.get_result().as_numpy("prob") for p in pending]
        results.append(check("16 async requests", all(np.array_equal(r, expected) for r in rows)))

        try:
            client.infer("no_such_model", [infer_input])
            results.append(check("unknown model is an error", False))
        except InferenceServerException as error:
            results.append(check("unknown model names the model",
                                 "no_such_model" in error.message(), error.message()))
        bad = httpclient.InferInput("input", [1, 1, 28, 27], "FP32")
        bad.set_data_from_numpy(np.zeros((1, 1, 28, 27), np.float32))
        try:
            client.infer("lenet5", [bad])
            results.append(check("wrong shape is an error", False))
        except InferenceServerException as error:
            results.append(check("wrong shape names the problem", "shape" in error.message(),
                                 error.message()))

        results += shared_memory_checks(client, httpclient, "http", images, expected)
        results += compression_checks(client, httpclient, grpcclient, grpc, http_port)
        results += logging_checks(
            client, "http", lambda request_id: client.infer("lenet5", [infer_input],
                                                            request_id=request_id),
            log.name, InferenceServerException)
        results += trace_checks(
            client, "http", images, lambda request_id: client.infer("lenet5", [infer_input],
                                                                request_id=request_id),
            trace_file, InferenceServerException)

        stats = client.get_inference_statistics("lenet5")["model_stats"][0]
        results.append(check("statistics count", stats["inference_count"] >= 80,
                             stats["inference_count"]))

        # Last, as a load starts the statistics afresh: a load with a config
        # in place of config.pbtxt (tritonclient's load_model(config=...)),
        # over HTTP and over gRPC; a load without one goes back to the file.
        served = client.get_model_config("lenet5")
        served["max_batch_size"] = 2
        served["dynamic_batching"]["preferred_batch_size"] = [2]
        served.pop("model_warmup", None)  # its batches of 16 would not fit
        for loader, protocol in ((client, "HTTP"), (grpc, "gRPC")):
            loader.load_model("lenet5", config=json.dumps(served))
            results.append(check(f"load with a config over {protocol}",
                                 client.get_model_config("lenet5")["max_batch_size"] == 2))
            try:
                client.infer("lenet5", [infer_input])  # 4 images
                results.append(check(f"{protocol}-loaded config's batch limit holds", False))
            except InferenceServerException as error:
                results.append(check(f"{protocol}-loaded config's batch limit holds",
                                     "batch of 1 to 2" in error.message(), error.message()))
        client.load_model("lenet5")
        results.append(check("load without a config reads config.pbtxt again",
                             client.get_model_config("lenet5")["max_batch_size"] == 64))
        results.append(check("and serves batches of 4 again", np.array_equal(
            client.infer("lenet5", [infer_input]).as_numpy("prob"), expected)))

        # The response cache (convd runs with --cache-config): enabled by a
        # load with a config, a repeated request is answered from it.
        cached = client.get_model_config("lenet5")
        cached["response_cache"] = {"enable": True}
        client.load_model("lenet5", config=json.dumps(cached))
        first = client.infer("lenet5", [infer_input], request_id="c-1")
        again = client.infer("lenet5", [infer_input], request_id="c-2")
        stats = client.get_inference_statistics("lenet5")["model_stats"][0]
        results.append(check("response cache: the repeat is a hit",
                             stats["inference_stats"]["cache_hit"]["count"] == 1 and
                             stats["inference_stats"]["cache_miss"]["count"] == 1 and
                             stats["execution_count"] == 1, stats["inference_stats"]))
        results.append(check("response cache: the hit equals the run, with its own id",
                             np.array_equal(first.as_numpy("prob"), again.as_numpy("prob")) and
                             np.array_equal(again.as_numpy("prob"), expected) and
                             again.get_response()["id"] == "c-2"))
        results.append(check("response cache: /metrics holds one entry",
                             cache_entries(log) == 1, cache_entries(log)))
        client.load_model("lenet5")
        # The replaced load's entries can never hit again: they leave once
        # it is destroyed (on the repository's thread, soon after).
        deadline = time.monotonic() + 10
        while cache_entries(log) != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        results.append(check("response cache: a reload drops the old load's entries",
                             cache_entries(log) == 0, cache_entries(log)))
    finally:
        client.close()
        grpc.close()
        stop_convd(process, log, results, "tritonclient[http]")


if __name__ == "__main__":
    main()
