"""Starts and stops a real convd for the tritonclient checks."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time


def make_test_certs(directory):
    """A throwaway PKI (tools/make_test_certs.sh) in `directory`; returns the
    path of one of its files by name ("ca.pem", "client.key", ...)."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "../../tools/make_test_certs.sh")
    subprocess.run(["bash", script, directory], check=True)
    return lambda name: os.path.join(directory, name)


def mutual_tls_flags(cert):
    """convd's flags for gRPC over mutual TLS with make_test_certs' files."""
    return ["--grpc-use-ssl-mutual", f"--grpc-server-cert={cert('server.pem')}",
            f"--grpc-server-key={cert('server.key')}", f"--grpc-root-cert={cert('ca.pem')}"]


def start_convd(binary, repository, extra_args=()):
    """Runs convd on free loopback ports; returns (process, grpc_port, http_port, log)."""
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    process = subprocess.Popen(
        [binary, f"--model-repository={repository}", "--grpc-address=127.0.0.1",
         "--grpc-port=0", "--http-address=127.0.0.1", "--http-port=0",
         "--metrics-port=0", *extra_args], stderr=log)
    for _ in range(600):
        with open(log.name) as f:
            text = f.read()
        grpc_port = re.search(r"gRPC listening on 127\.0\.0\.1:(\d+)", text)
        http_port = re.search(r"HTTP listening on 127\.0\.0\.1:(\d+)", text)
        if grpc_port and http_port:
            return process, int(grpc_port.group(1)), int(http_port.group(1)), log
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    sys.exit("convd did not start:\n" + open(log.name).read())


def check(name, condition, detail=""):
    print(f"{'ok  ' if condition else 'FAIL'} {name}{': ' + str(detail) if detail else ''}")
    return condition


def stop_convd(process, log, results, client_name):
    """SIGTERM must drain and exit 0; prints the summary, exits 1 on failure."""
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    results.append(check("SIGTERM exits 0", code == 0, code))
    if not all(results):
        print(open(log.name).read())
        sys.exit(1)
    print(f"{client_name}: {len(results)} checks passed")
