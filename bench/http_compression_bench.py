"""What HTTP compression costs and saves: convd's REST inference with the
request body sent as it is, gzip'd and deflate'd (zlib level 6, compressed
once before the timing), and with a gzip'd response asked for.

Usage (after `make build`, in the tritonclient virtual environment):
  .venv/bin/python bench/http_compression_bench.py [--runs N]
Starts convd on the bundled models (CPU) on free loopback ports. Requests:
LeNet-5 at batch 64 of real Fashion-MNIST test images (FP32, binary
tensor data, as tritonclient sends by default), AlexNet at batch 1 of
random floats; each answered with JSON outputs too, the compressible
case. Prints a table: body bytes on the wire and the median round trip of
a keep-alive http.client connection (client compression excluded).
"""
import argparse
import gzip
import http.client
import os
import statistics
import sys
import time
import zlib

import numpy as np
import tritonclient.http as httpclient

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "tritonclient"))
from convd_process import start_convd, stop_convd  # noqa: E402

DATASET = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def fashion_mnist(count):
    with gzip.open(DATASET) as f:
        pixels = np.frombuffer(f.read(), np.uint8, offset=16)[:count * 784]
    return (pixels.reshape(count, 1, 28, 28).astype(np.float32) / 255.0)


def request(model, images, binary_output):
    infer_input = httpclient.InferInput("input", list(images.shape), "FP32")
    infer_input.set_data_from_numpy(images, binary_data=True)
    outputs = [httpclient.InferRequestedOutput("prob", binary_data=binary_output)]
    body, json_size = httpclient.InferenceServerClient.generate_request_body(
        [infer_input], outputs=outputs)
    return f"/v2/models/{model}/infer", body, json_size


def median_ms(connection, target, body, headers, runs):
    times = []
    for i in range(runs + 5):
        start = time.perf_counter()
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            sys.exit(f"{target}: {response.status} {data[:200]}")
        if i >= 5:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), len(data), response.getheader("Content-Encoding")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    process, _, http_port, log = start_convd("bazel-bin/server/convd", "models",
                                             ["--device=cpu"])
    rng = np.random.default_rng()
    cases = [("lenet5", fashion_mnist(64), "LeNet-5, 64 Fashion-MNIST images"),
             ("alexnet", rng.uniform(0, 1, (1, 3, 224, 224)).astype(np.float32),
              "AlexNet, 1 random image")]
    print("| request | output | request coding | body bytes sent | response coding | "
          "response bytes | median ms |")
    print("|---|---|---|---|---|---|---|")
    try:
        connection = http.client.HTTPConnection("127.0.0.1", http_port)
        for model, images, what in cases:
            for binary_output in (True, False):
                target, body, json_size = request(model, images, binary_output)
                for coding, encoded in (("identity", body), ("gzip", gzip.compress(body, 6)),
                                        ("deflate", zlib.compress(body, 6))):
                    for accept in ("", "gzip"):
                        headers = {"Inference-Header-Content-Length": str(json_size)}
                        if coding != "identity":
                            headers["Content-Encoding"] = coding
                        if accept:
                            headers["Accept-Encoding"] = accept
                        ms, size, response_coding = median_ms(connection, target, encoded,
                                                              headers, args.runs)
                        print(f"| {what} | {'binary' if binary_output else 'JSON'} | {coding} | "
                              f"{len(encoded):,} | {response_coding or 'identity'} | {size:,} | "
                              f"{ms:.3f} |")
        connection.close()
    finally:
        stop_convd(process, log, [True], "http_compression_bench")


if __name__ == "__main__":
    main()
