"""The logging extension through tritonclient's get/update_log_settings.

Used by grpc_client_test.py and http_client_test.py: reads the settings,
turns verbose logging on, checks that convd's log (the server's stderr, in
`log_path`) then has an access line for a request and none for one sent
after it is turned off again, and that a setting convd cannot take is
refused naming it.
"""
from convd_process import check


def settings_of(client, protocol):
    settings = client.get_log_settings(as_json=True) if protocol == "grpc" \
        else client.get_log_settings()
    if protocol == "grpc":  # {"settings": {name: {"bool_param": ...}}}
        return {name: next(iter(value.values()), None)
                for name, value in settings["settings"].items()}
    return settings


def logging_checks(client, protocol, infer, log_path, error_type):
    results = []
    before = settings_of(client, protocol)
    results.append(check(f"{protocol} log settings", before.get("log_info") is True and
                         before.get("log_format") == "ISO8601" and
                         before.get("log_verbose_level", 0) == 0, before))
    client.update_log_settings({"log_verbose_level": 1})
    results.append(check(f"{protocol} verbose logging on",
                         settings_of(client, protocol).get("log_verbose_level") == 1))
    infer(f"{protocol}-logged")
    client.update_log_settings({"log_verbose_level": 0})
    infer(f"{protocol}-quiet")
    with open(log_path) as f:
        text = f.read()
    results.append(check(f"{protocol} an access line while verbose",
                         f'access id="{protocol}-logged"' in text))
    results.append(check(f"{protocol} none after", f'id="{protocol}-quiet"' not in text))
    try:
        client.update_log_settings({"log_format": "default"})
        results.append(check(f"{protocol} a format convd does not write is refused", False))
    except error_type as error:
        results.append(check(f"{protocol} a format convd does not write is refused",
                             "log_format" in str(error), str(error)))
    return results
