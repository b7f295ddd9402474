"""Compressed HTTP bodies and responses, as tritonclient.http sends and asks for them.

Used by http_client_test.py. tritonclient decodes a compressed response
without saying so, so the same request also goes through urllib, which
shows the Content-Encoding the server chose and the bytes it sent.
"""
import gzip
import json
import urllib.error
import urllib.request
import zlib

import numpy as np

from convd_process import check


def compression_checks(client, httpclient, grpcclient, grpc, http_port):
    results = []
    rng = np.random.default_rng()
    # 32 images: a JSON response of 320 probabilities, over the 1 KiB below
    # which convd sends responses as they are.
    images = rng.uniform(0.0, 1.0, size=(32, 1, 28, 28)).astype(np.float32)
    grpc_input = grpcclient.InferInput("input", list(images.shape), "FP32")
    grpc_input.set_data_from_numpy(images)
    expected = grpc.infer("lenet5", [grpc_input]).as_numpy("prob")
    for algorithm in ("gzip", "deflate"):
        for binary_data in (True, False):
            infer_input = httpclient.InferInput("input", list(images.shape), "FP32")
            infer_input.set_data_from_numpy(images, binary_data=binary_data)
            outputs = [httpclient.InferRequestedOutput("prob", binary_data=binary_data)]
            result = client.infer("lenet5", [infer_input], outputs=outputs,
                                  request_compression_algorithm=algorithm,
                                  response_compression_algorithm=algorithm)
            kind = "binary" if binary_data else "JSON"
            results.append(check(f"{algorithm} {kind} request and response equal gRPC",
                                 np.array_equal(result.as_numpy("prob"), expected)))

    url = f"http://127.0.0.1:{http_port}/v2/models/lenet5/infer"
    body = json.dumps({"inputs": [{"name": "input", "shape": list(images.shape),
                                   "datatype": "FP32", "data": images.flatten().tolist()}]})
    for coding, compress, decompress in (("gzip", gzip.compress, gzip.decompress),
                                         ("deflate", zlib.compress, zlib.decompress)):
        request = urllib.request.Request(url, data=compress(body.encode()), headers={
            "Content-Encoding": coding, "Accept-Encoding": coding})
        with urllib.request.urlopen(request) as response:
            encoding = response.headers.get("Content-Encoding")
            data = response.read()
        results.append(check(f"{coding} response is compressed", encoding == coding, encoding))
        if encoding == coding:
            answer = json.loads(decompress(data))
            probabilities = np.array(answer["outputs"][0]["data"], np.float32).reshape(32, 10)
            results.append(check(f"{coding} response decodes to the gRPC answer",
                                 np.array_equal(probabilities, expected)))

    request = urllib.request.Request(url, data=body.encode(), headers={"Content-Encoding": "br"})
    try:
        urllib.request.urlopen(request)
        results.append(check("unsupported Content-Encoding is refused", False))
    except urllib.error.HTTPError as error:
        message = json.loads(error.read()).get("error", "")
        results.append(check("unsupported Content-Encoding is 415 naming it",
                             error.code == 415 and "'br'" in message, (error.code, message)))
    return results
