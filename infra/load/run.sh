#!/usr/bin/env bash
# make load: starts the make dev stack on its own ports (moto on LOAD_MOTO_PORT, its DynamoDB on
# LOAD_MOTO_PORT+20000, the API on LOAD_PORT; loopback only), runs infra/load/load.js against it
# (bounded in requests and time), then stops what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
LOAD_MOTO_PORT=${LOAD_MOTO_PORT:-5066}
LOAD_PORT=${LOAD_PORT:-3066}
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=eu-central-1 \
  AWS_DEFAULT_REGION=eu-central-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL=http://127.0.0.1:$LOAD_MOTO_PORT
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$((LOAD_MOTO_PORT + 20000))

(cd infra/load && npm ci --no-audit --no-fund --silent)
cargo build -q -p crm-local
bin="${CARGO_TARGET_DIR:-target}/debug/crm-local"

infra/moto.sh start "$LOAD_MOTO_PORT"
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  infra/moto.sh stop "$LOAD_MOTO_PORT" || true
}
trap cleanup EXIT

mkdir -p .local
RUST_LOG=warn "$bin" dev --port "$LOAD_PORT" --prefix "crm-load-$$" > .local/load-server.log 2>&1 &
server=$!
for _ in $(seq 1 120); do
  curl -sf -o /dev/null "http://127.0.0.1:$LOAD_PORT/openapi.json" && break
  kill -0 "$server" 2>/dev/null || { cat .local/load-server.log; exit 1; }
  sleep 0.5
done
curl -sf -o /dev/null "http://127.0.0.1:$LOAD_PORT/openapi.json" || { echo "the stack did not come up"; exit 1; }

echo "load: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; the make dev stack (debug build of crm-local, moto + local DynamoDB) on 127.0.0.1:$LOAD_PORT"
LOAD_API=http://127.0.0.1:$LOAD_PORT \
  LOAD_TOKEN=$("$bin" token --tenant "load-$$" --user loader --role admin) \
  node infra/load/load.js
