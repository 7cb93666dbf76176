#!/bin/sh
# Regenerates the TLS test fixtures in tests/fixtures/tls: a small CA and a leaf certificate signed
# by it. Deno (rustls) rejects a self-signed leaf, so tests trust ca.pem and the server presents
# cert.pem (leaf, then CA) with key.pem. Valid for 100 years so the fixtures never expire in CI.
set -eu

out="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/tls"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
days=36500

mkdir -p "$out"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/ca-key.pem"
openssl req -x509 -new -key "$work/ca-key.pem" -sha256 -days "$days" \
  -subj "/CN=netws test CA" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" \
  -out "$work/ca.pem"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/key.pem"
openssl req -new -key "$work/key.pem" -subj "/CN=localhost" -out "$work/leaf.csr"
cat >"$work/leaf.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
openssl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" \
  -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$days" \
  -extfile "$work/leaf.ext" -out "$work/leaf.pem"

# The CA key is thrown away: nothing else can ever be signed by this test CA.
cp "$work/ca.pem" "$out/ca.pem"
cat "$work/leaf.pem" "$work/ca.pem" >"$out/cert.pem"
cp "$work/key.pem" "$out/key.pem"
# A throwaway test key: readable like the other fixtures.
chmod 644 "$out/key.pem"
openssl verify -CAfile "$out/ca.pem" "$work/leaf.pem"
