#!/usr/bin/env bash
# Starts or stops the local AWS endpoint (moto in server mode) on 127.0.0.1:PORT.
# usage: infra/moto.sh start|stop|status PORT
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:?start|stop|status}
port=${2:?port}
mkdir -p .local
pidfile=.local/moto-$port.pid
log=.local/moto-$port.log
url=http://127.0.0.1:$port

running() { curl -fsS -o /dev/null "$url/moto-api/" 2>/dev/null; }

case "$cmd" in
  start)
    if running; then
      echo "moto: already serving $url"
      exit 0
    fi
    # State lives in memory only; see infra/moto_server.py for why it is not plain moto_server.
    nohup .venv/bin/python infra/moto_server.py 127.0.0.1 "$port" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if running; then
        echo "moto: serving $url (log: $log)"
        exit 0
      fi
      if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "moto: failed to start; see $log" >&2
        cat "$log" >&2
        exit 1
      fi
      sleep 0.2
    done
    echo "moto: not ready after 20 s; see $log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    fi
    ;;
  status)
    running && echo "moto: serving $url" || { echo "moto: not running on $url"; exit 1; }
    ;;
  *) echo "usage: $0 start|stop|status PORT" >&2; exit 2 ;;
esac
