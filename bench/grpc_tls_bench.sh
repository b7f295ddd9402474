#!/usr/bin/env bash
# What TLS costs on the gRPC port: LeNet-5 (3 KB requests) and AlexNet
# (600 KB requests) at batch 1 with convload, in clear text, over TLS and
# over mutual TLS (certificates from tools/make_test_certs.sh, P-256 keys).
# convload keeps one connection per client, so this is the cost of
# encrypting requests and responses, not of handshakes. Rounds alternate
# the three servers, as this machine is noisy; compare medians.
#
#   bench/grpc_tls_bench.sh [ROUNDS=3] [DURATION=4s]
# Prints one line per round, model, concurrency and mode: infer/s, p50
# and p99 in ms.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
duration=${2:-4s}
bazel build -c opt //server:convd //client:convload >/dev/null 2>&1
source tools/convd_process.sh
trap 'stop_convd >/dev/null 2>&1 || true' EXIT
work=$(mktemp -d)
bash tools/make_test_certs.sh "$work/certs"
c=$work/certs
server_tls=(--grpc-server-cert="$c/server.pem" --grpc-server-key="$c/server.key")
client_tls=(--ssl --root-cert="$c/ca.pem")
client_cert=(--client-cert="$c/client.pem" --client-key="$c/client.key")
printf '%-6s %-8s %-5s %-7s %10s %8s %8s\n' round model conc mode infer/s p50_ms p99_ms
for round in $(seq "$rounds"); do
  for mode in clear tls mutual; do
    case $mode in
      clear) start_convd models --device=cpu; flags=() ;;
      tls) start_convd models --device=cpu --grpc-use-ssl "${server_tls[@]}"
           flags=("${client_tls[@]}") ;;
      mutual) start_convd models --device=cpu --grpc-use-ssl-mutual "${server_tls[@]}" \
                --grpc-root-cert="$c/ca.pem"
              flags=("${client_tls[@]}" "${client_cert[@]}") ;;
    esac
    for model in lenet5 alexnet; do
      for concurrency in 1 8; do
        convload_step "$(printf '%-6s %-8s %-5s %-7s' "$round" "$model" "$concurrency" "$mode")" \
          "$model" 127.0.0.1 "$concurrency" "$duration" "${flags[@]}"
      done
    done
    stop_convd
  done
done
rm -rf "$work"
