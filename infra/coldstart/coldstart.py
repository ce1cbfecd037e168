#!/usr/bin/env python3
"""Cold-start meter (`make coldstart`): a minimal Lambda Runtime API on loopback spawns each
function's `bootstrap` K times and measures

  init = the first GET /runtime/invocation/next - the process spawn

(what Lambda bills as the Init phase, less the sandbox's own start). The functions and the
hello-world baseline are spawned round-robin in one run, so a change of load on the machine
touches them alike. Prints, per function: median and p90 init, the ratio of its median to the
hello world's, and the binary's size.

Usage: coldstart.py [-k 15] [--max-ratio 2] --hello PATH NAME=PATH...
"""
import argparse, os, statistics, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Every variable a function of template.yaml may read, with placeholder values: a function
# must reach its first `next` without touching AWS, so the names are never resolved.
FUNCTION_ENV = {
    "TABLE_NAME": "crm", "IMPORTS_BUCKET": "imports", "STEP_QUEUE_URL": "https://sqs.local/steps",
    "STEP_QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:steps", "SCHEDULE_GROUP": "steps",
    "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler", "SES_SENDER": "crm@example.com",
    "JOB_QUEUE_URL": "https://sqs.local/jobs", "ATTACHMENTS_BUCKET": "attachments",
    "IMPORT_QUEUE_URL": "https://sqs.local/imports", "SES_CONFIGURATION_SET": "crm",
    "UNSUBSCRIBE_SECRET": "0123456789abcdef0123456789abcdef", "PUBLIC_API_URL": "https://api.local",
    "INBOX_BUCKET": "inbox", "INBOUND_DOMAIN": "mail.example.com", "RUST_LOG": "info",
}


class Stub:
    """The Runtime API: records when `next` is first asked for, and never answers it (the
    process is killed then), so no handler runs and nothing reaches AWS."""

    def __init__(self):
        self.t_next = None
        self.seen = threading.Event()
        stub = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path.endswith("/runtime/invocation/next"):
                    if not stub.seen.is_set():
                        stub.t_next = time.perf_counter()
                        stub.seen.set()
                    time.sleep(5)  # held until the process is killed
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def do_POST(self):  # /runtime/init/error: the function failed to start
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                print(f"{self.path}: {body[:300].decode(errors='replace')}", file=sys.stderr)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self):
        self.t_next = None
        self.seen.clear()


def measure(stub, path, env):
    stub.reset()
    t0 = time.perf_counter()
    p = subprocess.Popen([path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ok = stub.seen.wait(30)
    p.kill()
    err = p.communicate()[1]
    if not ok:
        sys.exit(f"{path}: no `next` request: {err.decode(errors='replace')[-500:]}")
    return (stub.t_next - t0) * 1000


def p90(xs):
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", type=int, default=15, help="fresh processes per function")
    ap.add_argument("--hello", required=True, help="the hello-world bootstrap")
    ap.add_argument("--max-ratio", type=float, default=2.0, help="the goal: median init / hello's")
    ap.add_argument("functions", nargs="+", help="NAME=PATH of each bootstrap")
    a = ap.parse_args()
    functions = [("hello-world", a.hello)] + [tuple(f.split("=", 1)) for f in a.functions]
    for name, path in functions:
        if not os.access(path, os.X_OK):
            sys.exit(f"{name}: {path} is not an executable (build it first)")

    stub = Stub()
    env = dict(os.environ, **FUNCTION_ENV)
    env.update(AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{stub.server.server_address[1]}",
               AWS_LAMBDA_FUNCTION_NAME="f", AWS_LAMBDA_FUNCTION_VERSION="1",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128", AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/f",
               AWS_LAMBDA_LOG_STREAM_NAME="s", AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_SESSION_TOKEN="test",
               AWS_EC2_METADATA_DISABLED="true", _HANDLER="bootstrap", LAMBDA_TASK_ROOT=os.getcwd())
    for k in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(k, None)

    for _, path in functions:  # warm the page cache: the first spawn would read from disk
        measure(stub, path, env)
    inits = {name: [] for name, _ in functions}
    for _ in range(a.k):  # round-robin: every function sees the same load
        for name, path in functions:
            inits[name].append(measure(stub, path, env))

    hello = statistics.median(inits["hello-world"])
    print(f"{'function':<22} {'median ms':>9} {'p90 ms':>8} {'× hello':>8} {'size MB':>8}")
    over = []
    for name, path in functions:
        med = statistics.median(inits[name])
        ratio = med / hello
        size = os.path.getsize(path) / 1e6
        mark = "" if name == "hello-world" or ratio <= a.max_ratio else "  over"
        if mark:
            over.append(name)
        print(f"{name:<22} {med:>9.2f} {p90(inits[name]):>8.2f} {ratio:>8.2f} {size:>8.1f}{mark}")
    print(f"k={a.k} processes each; goal: median init ≤ {a.max_ratio:g}× the hello world's"
          + (f"; over: {', '.join(over)}" if over else "; all within"))


if __name__ == "__main__":
    main()
