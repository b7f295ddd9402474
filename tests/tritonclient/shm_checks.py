"""System shared memory through unmodified tritonclient (gRPC or HTTP).

The calls are the same in both clients; only the shapes of their answers
differ (protobuf messages over gRPC, JSON over HTTP).
"""
import os

import numpy as np
import tritonclient.utils.shared_memory as shm
from tritonclient.utils import InferenceServerException

from convd_process import check


def _field(message, name):
    return message[name] if isinstance(message, dict) else getattr(message, name)


def shared_memory_checks(client, client_module, protocol, images, expected):
    """Input from and output to system shared memory equal the inline answer.

    `client_module` is tritonclient.grpc or tritonclient.http, `client` its
    InferenceServerClient; `expected` is the inline answer for `images`."""
    results = []
    tag = f"{protocol}-{os.getpid()}"
    input_bytes, output_bytes = images.nbytes, expected.nbytes
    # Odd offsets: the server must not assume aligned tensors.
    input_handle = shm.create_shared_memory_region(f"in-{tag}", f"/convd_in_{tag}", input_bytes + 12)
    output_handle = shm.create_shared_memory_region(f"out-{tag}", f"/convd_out_{tag}", output_bytes + 8)
    try:
        shm.set_shared_memory_region(input_handle, [images], offset=12)
        client.unregister_system_shared_memory()
        client.register_system_shared_memory("in", f"/convd_in_{tag}", input_bytes + 12)
        client.register_system_shared_memory("out", f"/convd_out_{tag}", output_bytes + 8)
        status = client.get_system_shared_memory_status()
        names = sorted(status.regions.keys()) if protocol == "grpc" else sorted(r["name"] for r in status)
        results.append(check(f"{protocol} shm: both regions registered", names == ["in", "out"], names))

        infer_input = client_module.InferInput("input", list(images.shape), "FP32")
        infer_input.set_shared_memory("in", input_bytes, offset=12)
        output = client_module.InferRequestedOutput("prob")
        output.set_shared_memory("out", output_bytes, offset=8)
        result = client.infer("lenet5", [infer_input], outputs=[output])
        described = result.get_output("prob")
        shape = list(_field(described, "shape"))
        values = shm.get_contents_as_numpy(output_handle, np.float32, shape, offset=8)
        results.append(check(f"{protocol} shm: output shape", shape == list(expected.shape), shape))
        results.append(check(f"{protocol} shm: output equals the inline answer",
                             np.allclose(values, expected, atol=1e-5),
                             float(np.abs(values - expected).max())))

        try:
            bad = client_module.InferInput("input", list(images.shape), "FP32")
            bad.set_shared_memory("nowhere", input_bytes)
            client.infer("lenet5", [bad])
            results.append(check(f"{protocol} shm: unknown region is an error", False))
        except InferenceServerException as error:
            results.append(check(f"{protocol} shm: unknown region is named",
                                 "'nowhere'" in error.message(), error.message()))
        client.unregister_system_shared_memory("in")
        left = client.get_system_shared_memory_status()
        names = sorted(left.regions.keys()) if protocol == "grpc" else sorted(r["name"] for r in left)
        results.append(check(f"{protocol} shm: unregister one", names == ["out"], names))
        client.unregister_system_shared_memory()
    finally:
        shm.destroy_shared_memory_region(input_handle)
        shm.destroy_shared_memory_region(output_handle)
    return results
