"""Unmodified tritonclient[grpc] against a real convd on loopback.

Usage: grpc_client_test.py CONVD_BINARY MODEL_REPOSITORY
Starts convd on a free port, runs the checks, stops it with SIGTERM and
expects exit status 0. Prints one line per check; exits non-zero on failure.
"""
import os
import sys
import tempfile
import threading

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from convd_process import check, start_convd, stop_convd
from logging_checks import logging_checks
from shm_checks import shared_memory_checks
from trace_checks import trace_checks


def main():
    binary, repository = sys.argv[1], sys.argv[2]
    trace_dir = tempfile.mkdtemp()
    trace_file = os.path.join(trace_dir, "trace.json")
    process, port, _, log = start_convd(binary, repository,
                                        ["--allow-client-shm", f"--trace-file={trace_file}"])
    client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{port}")
    results = []
    try:
        results.append(check("server live", client.is_server_live()))
        results.append(check("server ready", client.is_server_ready()))
        metadata = client.get_server_metadata()
        results.append(check("server metadata", metadata.name == "convd", metadata.name))
        results.append(check("model ready", client.is_model_ready("lenet5")))
        model = client.get_model_metadata("lenet5")
        results.append(check("model metadata shape", list(model.inputs[0].shape) == [-1, 1, 28, 28],
                             list(model.inputs[0].shape)))
        config = client.get_model_config("lenet5").config
        results.append(check("model config", config.max_batch_size > 0 and
                             config.input[0].name == "input", config.max_batch_size))
        # Triton's own ModelConfig message reads convd's optimization field.
        results.append(check("model config optimization", config.optimization.cuda.graphs,
                             config.optimization))

        rng = np.random.default_rng()
        images = rng.uniform(0.0, 1.0, size=(4, 1, 28, 28)).astype(np.float32)
        images[3] = images[0]  # the same image twice must give the same row
        infer_input = grpcclient.InferInput("input", list(images.shape), "FP32")
        infer_input.set_data_from_numpy(images)
        outputs = [grpcclient.InferRequestedOutput("prob")]
        result = client.infer("lenet5", [infer_input], outputs=outputs, request_id="tc-1")
        probabilities = result.as_numpy("prob")
        results.append(check("infer shape", probabilities.shape == (4, 10), probabilities.shape))
        results.append(check("softmax rows sum to 1",
                             np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)))
        results.append(check("identical images, identical rows",
                             np.array_equal(probabilities[0], probabilities[3])))
        results.append(check("request id echoed", result.get_response().id == "tc-1"))

        classified = client.infer("lenet5", [infer_input],
                                  outputs=[grpcclient.InferRequestedOutput("prob", class_count=3)])
        top = classified.as_numpy("prob")
        results.append(check("classification shape", top.shape == (4, 3), top.shape))
        best = [int(row[0].decode().split(":")[1]) for row in top]
        results.append(check("classification top-1 is the argmax",
                             best == list(np.argmax(probabilities, axis=1)), best))

        # gRPC's own message compression (tritonclient's compression_algorithm).
        for algorithm in ("gzip", "deflate"):
            compressed = client.infer("lenet5", [infer_input], outputs=outputs,
                                      compression_algorithm=algorithm)
            results.append(check(f"{algorithm}-compressed request equals the plain one",
                                 np.array_equal(compressed.as_numpy("prob"), probabilities)))

        try:
            client.infer("no_such_model", [infer_input])
            results.append(check("unknown model is an error", False))
        except InferenceServerException as error:
            results.append(check("unknown model is NOT_FOUND",
                                 "NOT_FOUND" in str(error.status()), error.status()))

        # The streaming API: many requests on one ModelStreamInfer stream,
        # answered through the callback, matched by id, a bad one as an error.
        answers, errors, done = {}, {}, threading.Event()

        def on_answer(result, error):
            if error is not None:
                errors[len(errors)] = str(error)
            else:
                answers[result.get_response().id] = result.as_numpy("prob")
            if len(answers) + len(errors) == 9:
                done.set()

        client.start_stream(callback=on_answer)
        for i in range(8):
            one = grpcclient.InferInput("input", [1, 1, 28, 28], "FP32")
            one.set_data_from_numpy(images[i % 4:i % 4 + 1])
            client.async_stream_infer("lenet5", [one], request_id=f"s-{i}", outputs=outputs)
        client.async_stream_infer("no_such_model", [infer_input], request_id="s-bad")
        done.wait(timeout=30)
        client.stop_stream()
        results.append(check("stream: 8 answers by id", sorted(answers) == [f"s-{i}" for i in range(8)],
                             sorted(answers)))
        results.append(check("stream: answers equal the unary rows",
                             all(np.allclose(answers[f"s-{i}"][0], probabilities[i % 4], atol=1e-5)
                                 for i in range(8) if f"s-{i}" in answers)))
        results.append(check("stream: a bad request is an error in the stream",
                             len(errors) == 1 and "unknown model 'no_such_model'" in errors.get(0, ""),
                             errors))

        results += shared_memory_checks(client, grpcclient, "grpc", images, probabilities)
        results += logging_checks(
            client, "grpc", lambda request_id: client.infer("lenet5", [infer_input],
                                                            request_id=request_id),
            log.name, InferenceServerException)
        results += trace_checks(
            client, "grpc", images, lambda request_id: client.infer("lenet5", [infer_input],
                                                                request_id=request_id),
            trace_file, InferenceServerException)

        stats = client.get_inference_statistics("lenet5").model_stats[0]
        results.append(check("statistics count", stats.inference_count >= 16, stats.inference_count))
    finally:
        client.close()
        stop_convd(process, log, results, "tritonclient[grpc]")


if __name__ == "__main__":
    main()
