#!/usr/bin/env bash
# Contract test (issue 14 item 1): schemathesis (pinned in infra/requirements.txt) against the API
# that `make dev` serves, on its own ports on 127.0.0.1, with every check, the stateful phase and
# EXAMPLES examples per operation. Fails on any failure; stops the stack afterwards.
#
# usage: infra/contract/run.sh [EXAMPLES]      (make contract: 50, make fuzz: 500)
# environment: CONTRACT_MOTO_PORT (5068), CONTRACT_DEV_PORT (3068), CONTRACT_SEED (fixed for
# make contract; unset = random), CONTRACT_MAX_TIME (seconds per phase run; unset = none),
# CONTRACT_ARGS (more schemathesis flags, e.g. --include-path-regex '^/contacts').
set -euo pipefail
cd "$(dirname "$0")/../.."
EXAMPLES="${1:-50}"
MOTO_PORT="${CONTRACT_MOTO_PORT:-5068}"
DEV_PORT="${CONTRACT_DEV_PORT:-3068}"
BASE="http://127.0.0.1:${DEV_PORT}"
TARGET="${CARGO_TARGET_DIR:-target}"
CRM_LOCAL="${TARGET}/debug/crm-local"
REPORT_DIR=".local/contract"
mkdir -p "$REPORT_DIR"

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=eu-central-1 \
  AWS_DEFAULT_REGION=eu-central-1 AWS_EC2_METADATA_DISABLED=true \
  AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_PORT}" \
  AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$((MOTO_PORT + 20000))"

cargo build -q -p crm-local
# A copy, so that a rebuild while this runs cannot swap it.
cp "$CRM_LOCAL" "$REPORT_DIR/crm-local"
CRM_LOCAL="$REPORT_DIR/crm-local"
infra/moto.sh start "$MOTO_PORT"
crm_pid=""
cleanup() {
  if [ -n "$crm_pid" ]; then kill "$crm_pid" 2>/dev/null || true; wait "$crm_pid" 2>/dev/null || true; fi
  infra/moto.sh stop "$MOTO_PORT" || true
}
trap cleanup EXIT
RUST_LOG=warn "$CRM_LOCAL" dev --port "$DEV_PORT" --prefix crm-contract >"$REPORT_DIR/dev.log" 2>&1 &
crm_pid=$!
for _ in $(seq 1 120); do
  curl -sf -o /dev/null "$BASE/openapi.json" && break
  kill -0 "$crm_pid" 2>/dev/null || { cat "$REPORT_DIR/dev.log"; exit 1; }
  sleep 0.5
done
curl -sf -o "$REPORT_DIR/openapi.json" "$BASE/openapi.json"
# The served document is the committed one (make openapi; a platform test checks it is fresh).
# The configuration: infra/contract/schemathesis.toml, plus 400 accepted for a schema-valid
# request only on the operations that take an opaque cursor (see there).
config="$REPORT_DIR/schemathesis.toml"
cp infra/contract/schemathesis.toml "$config"
.venv/bin/python - "$REPORT_DIR/openapi.json" >>"$config" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for path, ops in sorted(doc["paths"].items()):
    for method, op in ops.items():
        if any(p.get("in") == "query" and p.get("name") == "cursor" for p in op.get("parameters", [])):
            print(f'\n[[operations]]\ninclude-operation-id = "{op["operationId"]}"')
            print('checks.positive_data_acceptance.expected-statuses = '
                  '["2xx", "3xx", "400", "401", "403", "404", "409", "412", "422", "429", "5xx"]')
PY
TOKEN="$("$CRM_LOCAL" token --tenant contract --user contract-admin --role admin --ttl-seconds 86400)"

seed=()
if [ -n "${CONTRACT_SEED:-}" ]; then seed=(--seed "$CONTRACT_SEED"); fi
max_time=()
if [ -n "${CONTRACT_MAX_TIME:-}" ]; then max_time=(--max-time "$CONTRACT_MAX_TIME"); fi
start=$(date +%s)
status=0
# shellcheck disable=SC2086
.venv/bin/schemathesis --config-file "$config" run "$BASE/openapi.json" \
  --url "$BASE" \
  -H "Authorization: Bearer ${TOKEN}" \
  --checks all --exclude-checks unsupported_method \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$EXAMPLES" \
  --workers 2 \
  --request-timeout 30 \
  --suppress-health-check all \
  --report junit,ndjson --report-dir "$REPORT_DIR" \
  --warnings off \
  "${seed[@]}" "${max_time[@]}" ${CONTRACT_ARGS:-} || status=$?
echo "schemathesis: ${EXAMPLES} examples per operation, $(( $(date +%s) - start )) s, exit ${status}"
exit "$status"
