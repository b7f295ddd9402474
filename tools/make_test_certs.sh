#!/bin/bash
# Makes a throwaway PKI for TLS tests in DIR (fresh keys every run, valid for
# two days, never committed):
#   ca.pem / ca.key            a CA that signs everything below
#   server.pem / server.key    for localhost and 127.0.0.1, signed by the CA
#   client.pem / client.key    a client certificate signed by the CA
#   stranger.pem / stranger.key  a client certificate from another CA
# Usage: tools/make_test_certs.sh DIR   (needs Debian's openssl)
set -euo pipefail
dir=${1:?usage: make_test_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
ssl() { openssl "$@" 2>/dev/null; }
key() { ssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

make_ca() {  # NAME
  key "$1.key"
  ssl req -x509 -new -key "$1.key" -days 2 -subj "/CN=convd test $1" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -out "$1.pem"
}
sign() {  # NAME CA SUBJECT EXTENSIONS
  key "$1.key"
  ssl req -new -key "$1.key" -subj "$3" -out "$1.csr"
  printf '%s\n' "$4" > "$1.ext"
  ssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.pem"
  rm -f "$1.csr" "$1.ext"
}

make_ca ca
make_ca other_ca
sign server ca "/CN=localhost" \
  "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
sign client ca "/CN=convd test client" "extendedKeyUsage=clientAuth"
sign stranger other_ca "/CN=convd test stranger" "extendedKeyUsage=clientAuth"
rm -f other_ca.key ./*.srl
