"""Unmodified tritonclient against convd with restricted APIs.

Usage: restricted_api_test.py CONVD_BINARY MODEL_REPOSITORY
Starts convd with Triton's --grpc-restricted-protocol and
--http-restricted-api, each given twice (model control for an admin key,
inference for another), and checks over both protocols, with tritonclient's
own `headers=`: a call without its key is refused naming the header (gRPC
PERMISSION_DENIED, HTTP 403), the key opens its group and no other, and the
open groups need nothing. Exits non-zero on failure.
"""
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from convd_process import check, start_convd, stop_convd

ADMIN = "adm1n-s3cret"
INFER = "1nfer-k3y"


def refused(call, needle):
    """(refused as expected, detail): the call raises naming `needle`."""
    try:
        call()
    except InferenceServerException as error:
        text = f"{error.status()} {error.message()}"
        return needle in text and ADMIN not in text and INFER not in text, text
    return False, "answered"


def main():
    binary, repository = sys.argv[1], sys.argv[2]
    process, grpc_port, http_port, log = start_convd(
        binary, repository,
        ["--model-control=explicit",
         f"--grpc-restricted-protocol=model-repository,trace:admin-key={ADMIN}",
         f"--grpc-restricted-protocol=inference:infer-key={INFER}",
         f"--http-restricted-api=model-repository,trace:admin-key={ADMIN}",
         f"--http-restricted-api=inference:infer-key={INFER}"])
    grpc = grpcclient.InferenceServerClient(url=f"127.0.0.1:{grpc_port}")
    http = httpclient.InferenceServerClient(url=f"127.0.0.1:{http_port}")
    results = []
    images = np.random.default_rng().uniform(0, 1, size=(2, 1, 28, 28)).astype(np.float32)
    try:
        for name, client, module, prefix, denied in (
                ("grpc", grpc, grpcclient, "triton-grpc-protocol-", "StatusCode.PERMISSION_DENIED"),
                ("http", http, httpclient, "", "403")):
            admin = {f"{prefix}admin-key": ADMIN}
            infer = {f"{prefix}infer-key": INFER}
            ok, detail = refused(lambda: client.get_model_repository_index(), f"'{prefix}admin-key'")
            results.append(check(f"{name}: repository index refused without the key", ok, detail))
            results.append(check(f"{name}: ... as {denied}", denied in detail, detail))
            ok, detail = refused(lambda: client.unload_model("lenet5"), f"'{prefix}admin-key'")
            results.append(check(f"{name}: unload refused without the key", ok, detail))
            ok, detail = refused(lambda: client.unload_model("lenet5", headers={
                f"{prefix}admin-key": "guess"}), "is not it")
            results.append(check(f"{name}: unload refused with another value", ok, detail))
            ok, detail = refused(lambda: client.get_trace_settings(), f"'{prefix}admin-key'")
            results.append(check(f"{name}: trace settings refused without the key", ok, detail))
            client.load_model("lenet5", headers=admin)
            results.append(check(f"{name}: load with the key",
                                 client.is_model_ready("lenet5")))
            index = client.get_model_repository_index(headers=admin)
            entries = index.models if name == "grpc" else index
            results.append(check(f"{name}: index with the key",
                                 any(m.name == "lenet5" if name == "grpc" else m["name"] == "lenet5"
                                     for m in entries)))

            inp = module.InferInput("input", list(images.shape), "FP32")
            inp.set_data_from_numpy(images)
            ok, detail = refused(lambda: client.infer("lenet5", [inp], headers=admin),
                                 f"'{prefix}infer-key'")
            results.append(check(f"{name}: the admin key does not open inference", ok, detail))
            probabilities = client.infer("lenet5", [inp], headers=infer).as_numpy("prob")
            results.append(check(f"{name}: infer with its key", probabilities.shape == (2, 10) and
                                 np.allclose(probabilities.sum(axis=1), 1, atol=1e-5),
                                 probabilities.shape))
            # Open groups need nothing.
            results.append(check(f"{name}: health open", client.is_server_live()))
            results.append(check(f"{name}: metadata open",
                                 client.get_model_metadata("lenet5") is not None))
            results.append(check(f"{name}: statistics open",
                                 client.get_inference_statistics("lenet5") is not None))
    finally:
        grpc.close()
        http.close()
        stop_convd(process, log, results, "restricted APIs (tritonclient)")


if __name__ == "__main__":
    main()
