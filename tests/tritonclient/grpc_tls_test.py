"""Unmodified tritonclient[grpc] against convd serving gRPC over TLS.

Usage: grpc_tls_test.py CONVD_BINARY MODEL_REPOSITORY
Makes a throwaway PKI (tools/make_test_certs.sh), starts convd with
--grpc-use-ssl-mutual, and checks with tritonclient's own ssl arguments:
a client with a certificate from the root CA infers (the same numbers as
the clear-text HTTP port gives); one without a certificate, with another
CA's, or in clear text is refused. Exits non-zero on failure.
"""
import sys
import tempfile

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from convd_process import check, make_test_certs, mutual_tls_flags, start_convd, stop_convd


def refused(client, inputs):
    try:
        client.infer("lenet5", inputs, client_timeout=10)
    except InferenceServerException as error:
        return True, error.status()
    return False, "answered"


def main():
    binary, repository = sys.argv[1], sys.argv[2]
    cert = make_test_certs(tempfile.mkdtemp())
    process, grpc_port, http_port, log = start_convd(binary, repository, mutual_tls_flags(cert))
    results = []
    images = np.random.default_rng().uniform(0, 1, size=(3, 1, 28, 28)).astype(np.float32)
    url = f"localhost:{grpc_port}"
    try:
        trusted = grpcclient.InferenceServerClient(
            url=url, ssl=True, root_certificates=cert("ca.pem"),
            private_key=cert("client.key"), certificate_chain=cert("client.pem"))
        inp = grpcclient.InferInput("input", list(images.shape), "FP32")
        inp.set_data_from_numpy(images)
        over_tls = trusted.infer("lenet5", [inp]).as_numpy("prob")
        http = httpclient.InferenceServerClient(url=f"127.0.0.1:{http_port}")
        http_inp = httpclient.InferInput("input", list(images.shape), "FP32")
        http_inp.set_data_from_numpy(images)
        in_clear = http.infer("lenet5", [http_inp]).as_numpy("prob")
        results.append(check("a client with the CA's certificate infers over TLS",
                             over_tls.shape == (3, 10) and np.array_equal(over_tls, in_clear)))
        results.append(check("... and reads metadata",
                             trusted.get_model_metadata("lenet5").name == "lenet5"))
        for name, client in (
                ("no client certificate", grpcclient.InferenceServerClient(
                    url=url, ssl=True, root_certificates=cert("ca.pem"))),
                ("another CA's certificate", grpcclient.InferenceServerClient(
                    url=url, ssl=True, root_certificates=cert("ca.pem"),
                    private_key=cert("stranger.key"), certificate_chain=cert("stranger.pem"))),
                ("clear text", grpcclient.InferenceServerClient(url=url))):
            ok, detail = refused(client, [inp])
            results.append(check(f"refused: {name}", ok, detail))
            client.close()
        trusted.close()
        http.close()
    finally:
        stop_convd(process, log, results, "tritonclient[grpc] over TLS")


if __name__ == "__main__":
    main()
