#!/usr/bin/env bash
# Starts or stops the local AWS endpoint on 127.0.0.1:PORT: moto in server mode for S3, SQS,
# SES and Scheduler, forwarding DynamoDB to the local DynamoDB (infra/dynamodb/server.js:
# dynalite on disk with transactions and streams) on 127.0.0.1:PORT+20000, whose data lives in
# .local/dynamodb-PORT and is wiped at each start. LOCAL_DYNAMODB=moto keeps DynamoDB in moto.
# usage: infra/moto.sh start|stop|status PORT
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:?start|stop|status}
port=${2:?port}
ddb_port=$((port + 20000))
mkdir -p .local
pidfile=.local/moto-$port.pid
ddb_pidfile=.local/dynamodb-$port.pid
ddb_data=.local/dynamodb-$port
log=.local/moto-$port.log
ddb_log=.local/dynamodb-$port.log
url=http://127.0.0.1:$port
ddb_url=http://127.0.0.1:$ddb_port

running() { curl -fsS -o /dev/null "$url/moto-api/" 2>/dev/null; }
ddb_running() { curl -fsS -o /dev/null "$ddb_url/" 2>/dev/null; }

wait_for() { # name check pidfile log
  for _ in $(seq 1 100); do
    if "$2"; then return 0; fi
    if ! kill -0 "$(cat "$3")" 2>/dev/null; then
      echo "$1: failed to start; see $4" >&2
      cat "$4" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "$1: not ready after 20 s; see $4" >&2
  return 1
}

stop() {
  for f in "$pidfile" "$ddb_pidfile"; do
    if [ -f "$f" ]; then
      kill "$(cat "$f")" 2>/dev/null || true
      rm -f "$f"
    fi
  done
}

case "$cmd" in
  start)
    if running; then
      echo "moto: already serving $url"
      exit 0
    fi
    args=()
    if [ "${LOCAL_DYNAMODB:-dynalite}" != moto ]; then
      [ -d infra/dynamodb/node_modules ] || (cd infra/dynamodb && npm ci --no-audit --no-fund --silent)
      if ! ddb_running; then
        rm -rf "$ddb_data"
        nohup node infra/dynamodb/server.js "$ddb_port" "$ddb_data" >"$ddb_log" 2>&1 &
        echo $! >"$ddb_pidfile"
        wait_for "local dynamodb" ddb_running "$ddb_pidfile" "$ddb_log" || { stop; exit 1; }
      fi
      args=("$ddb_url")
    fi
    # S3, SQS, SES and Scheduler state lives in memory; see infra/moto_server.py for why it is
    # not plain moto_server.
    nohup .venv/bin/python infra/moto_server.py 127.0.0.1 "$port" "${args[@]}" >"$log" 2>&1 &
    echo $! >"$pidfile"
    wait_for moto running "$pidfile" "$log" || { stop; exit 1; }
    echo "moto: serving $url (log: $log)${args:+; DynamoDB: $ddb_url (data: $ddb_data)}"
    ;;
  stop)
    stop
    ;;
  status)
    running && echo "moto: serving $url" || { echo "moto: not running on $url"; exit 1; }
    ;;
  *) echo "usage: $0 start|stop|status PORT" >&2; exit 2 ;;
esac
