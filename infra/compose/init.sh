#!/bin/sh
# docker-compose.yml's one-shot `init`: the run-time secrets, written into volumes before NATS and Alertmanager
# start, so that nothing secret is baked into an image or committed. Runs as root in the Driftline image; each
# file is then owned by the user that reads it. Safe to run again: certificates are kept until 30 days before
# they expire (then made anew, which is also how to rotate them: `docker compose run --rm init` after deleting
# the nats-ca volume), the token is rewritten from the environment each time.
set -eu
OUT=${INIT_ROOT:-/run/driftline}  # where compose mounts the volumes (a test runs it into a temporary folder)
CA=$OUT/ca TLS=$OUT/nats-tls TRUST=$OUT/trust AM=$OUT/alertmanager
NATS_UID=10001     # the image's driftline user, which runs nats-server (infra/Dockerfile)
NODES="nats nats-1 nats-2 nats-3"  # the client alias and each node (routes verify the node they dial)
umask 077

# 1. TLS for NATS: a private CA, and one certificate the nodes present to clients (serverAuth) and to each other
#    on routes, where both ends verify (clientAuth). ECDSA P-256; the CA's key never leaves the nats-ca volume.
if ! openssl x509 -checkend 2592000 -noout -in "$CA/ca.pem" >/dev/null 2>&1; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj "/CN=Driftline NATS CA" \
    -keyout "$CA/ca-key.pem" -out "$CA/ca.pem" 2>/dev/null
  rm -f "$TLS/server.pem"
  echo "init: made the NATS certificate authority"
fi
if ! openssl x509 -checkend 2592000 -noout -in "$TLS/server.pem" >/dev/null 2>&1; then
  sans=$(for n in $NODES localhost; do printf 'DNS:%s,' "$n"; done)IP:127.0.0.1
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\n' "$sans" \
    > "$CA/server.ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=nats" \
    -keyout "$TLS/server-key.pem" -out "$CA/server.csr" 2>/dev/null
  openssl x509 -req -in "$CA/server.csr" -CA "$CA/ca.pem" -CAkey "$CA/ca-key.pem" -CAcreateserial -days 397 \
    -extfile "$CA/server.ext" -out "$TLS/server.pem" 2>/dev/null
  echo "init: made the NATS nodes' certificate for $sans"
fi
cp "$CA/ca.pem" "$TLS/ca.pem"
[ "$(id -u)" != 0 ] || chown "$NATS_UID" "$TLS/server-key.pem" "$TLS/server.pem" "$TLS/ca.pem"
# Clients: the CA alone, and a bundle with the image's public CAs for SSL_CERT_FILE (Slack and SMTP still verify).
cp "$CA/ca.pem" "$TRUST/nats-ca.pem"
cat /etc/ssl/certs/ca-certificates.crt "$CA/ca.pem" > "$TRUST/ca-bundle.pem"
chmod 644 "$TRUST/nats-ca.pem" "$TRUST/ca-bundle.pem"
chmod 755 "$TRUST"

# 2. The bearer token Alertmanager sends to the gateway's webhook (the gateway checks DRIFTLINE_ALERTMANAGER_TOKEN).
#    Alertmanager runs as nobody; only the alertmanager container mounts this volume.
printf "%s" "${DRIFTLINE_ALERTMANAGER_TOKEN:?set DRIFTLINE_ALERTMANAGER_TOKEN}" > "$AM/alertmanager_token"
chmod 644 "$AM/alertmanager_token"
chmod 755 "$AM"

# 3. NATS identities (issue 15): an nkey seed for each service, command role, the auditor and the operator, and the
#    users include with the permissions of each, derived from driftline/bus_map.py (`driftline auth init`: seeds
#    are kept when it runs again, the include follows the current map). Every seed stays in the nats-auth volume,
#    which only init mounts; each creds/<identity> folder is a volume one container mounts, and gets that one seed.
#    The include holds public keys only; the nodes read it from /etc/nats/auth (infra.nats_server.render_config).
AUTH=$OUT/auth USERS=$OUT/nats-users
mkdir -p "$AUTH" "$USERS"
${PYTHON:-python} -m driftline auth init "$AUTH" >/dev/null
cp "$AUTH/nats-users.conf" "$USERS/nats-users.conf"
chmod 644 "$USERS/nats-users.conf"
chmod 755 "$USERS"
for folder in "$OUT"/creds/*/; do
  [ -d "$folder" ] || continue
  identity=$(basename "$folder")
  if [ ! -f "$AUTH/$identity.nk" ]; then
    echo "init: no NATS identity named $identity (see \`driftline auth show\`)" >&2
    exit 1
  fi
  cp "$AUTH/$identity.nk" "$folder/$identity.nk"
  chmod 600 "$folder/$identity.nk"
  chmod 700 "$folder"
  [ "$(id -u)" != 0 ] || chown -R "$NATS_UID" "$folder"
done
[ "$(id -u)" != 0 ] || chown "$NATS_UID" "$USERS/nats-users.conf"
echo "init: NATS credentials ready for $(ls "$OUT"/creds 2>/dev/null | tr '\n' ' ')"

echo "init: secrets ready"
