#!/usr/bin/env bash
# Makes the certificates the TLS tests use, all ECDSA P-256, in DIR:
#   ca.pem/ca.key           the test CA
#   server.pem/server.key   CN=localhost, SAN DNS:localhost, IP:127.0.0.1
#   org.pem/org.key         CN=www.example.org, SAN DNS:*.example.org
#   client.pem/client.key   CN=backup-1, SAN DNS:host.corp.example, URI:spiffe://corp/backup
#   intruder.pem/.key       CN=intruder, signed by the same CA
#   other-ca.pem/.key and stranger.pem/.key   CN=backup-2, signed by another CA
#   server2.pem/server2.key CN=localhost again: a second pair, for rotation
set -euo pipefail
dir=$1
cd "$dir"
days=${DAYS:-30}

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {  # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -subj "$2" -days "$days" -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

leaf() {  # name subject san issuer usage
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$3" "$5" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" -CAcreateserial -days "$days" \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "/CN=yinetd test CA"
ca other-ca "/CN=another CA"
leaf server "/CN=localhost" "DNS:localhost,IP:127.0.0.1" ca serverAuth
leaf server2 "/CN=localhost" "DNS:localhost,IP:127.0.0.1" ca serverAuth
leaf org "/CN=www.example.org" "DNS:*.example.org" ca serverAuth
leaf client "/O=Corp/CN=backup-1" "DNS:host.corp.example,URI:spiffe://corp/backup" ca clientAuth
leaf intruder "/CN=intruder" "DNS:intruder.example" ca clientAuth
leaf stranger "/CN=backup-2" "DNS:host.corp.example" other-ca clientAuth
