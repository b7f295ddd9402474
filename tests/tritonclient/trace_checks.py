"""The trace extension through tritonclient's get/update_trace_settings.

Used by grpc_client_test.py and http_client_test.py, with convd started
with --trace-file (tracing OFF): reads the settings, turns tracing on for
lenet5 alone at every request with its tensors, checks that a request's
trace lands in the trace file with its stages in order and its input and
output tensors equal to what was sent and returned, that clearing the
model's settings stops it, and that what convd refuses is refused naming it.
"""
import glob
import json
import time

import numpy as np

from convd_process import check

PROTOCOL_STAGES = {
    "grpc": ("GRPC_WAIT_READ_START", "GRPC_WAIT_READ_END", "GRPC_SEND_START", "GRPC_SEND_END"),
    "http": ("HTTP_RECV_START", "HTTP_RECV_END", "HTTP_SEND_START", "HTTP_SEND_END"),
}
SERVICE_STAGES = ("REQUEST_START", "QUEUE_START", "COMPUTE_START", "COMPUTE_INPUT_END",
                  "COMPUTE_OUTPUT_START", "COMPUTE_END", "INFER_RESPONSE_COMPLETE", "REQUEST_END")


def settings_of(client, protocol, model_name=None):
    if protocol == "grpc":  # {"settings": {name: {"value": [...]}}}
        settings = client.get_trace_settings(model_name=model_name, as_json=True)
        return {name: value.get("value", []) for name, value in settings["settings"].items()}
    settings = client.get_trace_settings(model_name=model_name)
    return {name: value if isinstance(value, list) else [value] for name, value in settings.items()}


def find_trace(trace_file, request_id, wait_seconds):
    """The objects of the trace of `request_id`, from every file written so far."""
    deadline = time.monotonic() + wait_seconds
    while True:
        objects = []
        for path in glob.glob(trace_file + ".*"):
            if path.endswith(".tmp"):
                continue
            with open(path) as f:
                objects += json.load(f)
        ids = {o["id"] for o in objects if o.get("request_id") == request_id}
        if ids or time.monotonic() > deadline:
            return [o for o in objects if o["id"] in ids]
        time.sleep(0.05)


def trace_checks(client, protocol, images, infer, trace_file, error_type):
    """`infer(request_id)` sends `images` to lenet5 and returns the result."""
    results = []
    before = settings_of(client, protocol)
    results.append(check(f"{protocol} trace settings", before.get("trace_level") == ["OFF"] and
                         before.get("trace_rate") == ["1000"] and
                         before.get("trace_file") == [trace_file] and
                         before.get("trace_mode") == ["triton"], before))

    on = client.update_trace_settings(
        model_name="lenet5", settings={"trace_level": ["TIMESTAMPS", "TENSORS"],
                                       "trace_rate": "1", "log_frequency": "1"})
    now = settings_of(client, protocol, "lenet5")
    results.append(check(f"{protocol} lenet5 traced at every request",
                         on is not None and now.get("trace_rate") == ["1"] and
                         now.get("trace_level") == ["TIMESTAMPS", "TENSORS"], now))
    results.append(check(f"{protocol} the global settings unchanged",
                         settings_of(client, protocol).get("trace_level") == ["OFF"]))

    result = infer(f"{protocol}-traced")
    trace = find_trace(trace_file, f"{protocol}-traced", wait_seconds=10)
    stamps = {o["timestamps"][0]["name"]: o["timestamps"][0]["ns"]
              for o in trace if "timestamps" in o}
    recv_start, recv_end, send_start, send_end = PROTOCOL_STAGES[protocol]
    order = (recv_start, recv_end) + SERVICE_STAGES + (send_start, send_end)
    results.append(check(f"{protocol} a trace with every stage", set(order) <= set(stamps),
                         sorted(stamps)))
    times = [stamps.get(stage, -1) for stage in order]
    results.append(check(f"{protocol} stages in order", times == sorted(times) and times[0] > 0,
                         list(zip(order, times))))
    model = [o for o in trace if "model_name" in o]
    results.append(check(f"{protocol} trace names the model",
                         len(model) == 1 and model[0]["model_name"] == "lenet5" and
                         model[0]["model_version"] == 1, model))
    tensors = {o["activity"]: o["tensor"] for o in trace if "activity" in o}
    sent = tensors.get("TENSOR_QUEUE_INPUT", {})
    got = tensors.get("TENSOR_BACKEND_OUTPUT", {})
    results.append(check(f"{protocol} traced input is what was sent",
                         sent.get("shape") == ",".join(map(str, images.shape)) and
                         np.array_equal(np.array(sent.get("data", "nan").split(","),
                                                 dtype=np.float32), images.ravel()),
                         sent.get("shape")))
    probabilities = result.as_numpy("prob")
    results.append(check(f"{protocol} traced output is what came back",
                         got.get("shape") == ",".join(map(str, probabilities.shape)) and
                         np.array_equal(np.array(got.get("data", "nan").split(","),
                                                 dtype=np.float32), probabilities.ravel()),
                         got.get("shape")))

    client.update_trace_settings(model_name="lenet5", settings={
        "trace_level": None, "trace_rate": None, "log_frequency": None})
    results.append(check(f"{protocol} cleared, lenet5 follows the global settings",
                         settings_of(client, protocol, "lenet5") == settings_of(client, protocol)))
    infer(f"{protocol}-untraced")
    results.append(check(f"{protocol} no trace once cleared",
                         find_trace(trace_file, f"{protocol}-untraced", wait_seconds=1) == []))

    for settings, refusal in (({"trace_file": "/tmp/elsewhere.json"}, "trace_file"),
                              ({"trace_level": ["VERBOSE"]}, "VERBOSE"),
                              ({"trace_rate": "0"}, "trace_rate")):
        try:
            client.update_trace_settings(settings=settings)
            results.append(check(f"{protocol} {settings} is refused", False))
        except error_type as error:
            results.append(check(f"{protocol} {settings} is refused", refusal in str(error),
                                 str(error)))
    try:
        client.get_trace_settings(model_name="no_such_model")
        results.append(check(f"{protocol} an unknown model's trace settings", False))
    except error_type as error:
        results.append(check(f"{protocol} an unknown model's trace settings are NOT_FOUND",
                             "no_such_model" in str(error), str(error)))
    return results
