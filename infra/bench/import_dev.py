"""End-to-end import benchmark through the local stack of `make dev` (S5.3): starts the local
AWS endpoint (moto + the local DynamoDB) and the CRM (`crm-local dev`, the build `make dev`
runs), uploads a generated contacts CSV as a client would, follows the import to its end, and
prints rows/s and the peak resident memory of every local process.

usage: python infra/bench/import_dev.py [ROWS]   (stdlib only; run by `make bench-import`)
environment: BENCH_MOTO_PORT (5060), BENCH_DEV_PORT (3060), CRM_LOCAL (the crm-local binary)
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
MOTO_PORT = int(os.environ.get("BENCH_MOTO_PORT", "5060"))
DEV_PORT = int(os.environ.get("BENCH_DEV_PORT", "3060"))
# The binary `cargo build -p crm-local` just made, in CARGO_TARGET_DIR when one is set.
CRM_LOCAL = os.environ.get(
    "CRM_LOCAL",
    os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug/crm-local"),
)
API = f"http://127.0.0.1:{DEV_PORT}"
ENV = dict(
    os.environ,
    AWS_ACCESS_KEY_ID="test",
    AWS_SECRET_ACCESS_KEY="test",
    AWS_REGION="eu-central-1",
    AWS_DEFAULT_REGION="eu-central-1",
    AWS_EC2_METADATA_DISABLED="true",
    AWS_ENDPOINT_URL=f"http://127.0.0.1:{MOTO_PORT}",
    # As `make dev`: DynamoDB straight to the local DynamoDB moto.sh starts beside moto.
    AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{MOTO_PORT + 20000}",
)


def generate(path: str, rows: int) -> int:
    """A contacts CSV like a CRM export: names, email, company, phone, city, tags, status."""
    statuses = ["lead", "prospect", "customer", "inactive"]
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("First name,Last name,Email,Company,Phone,City,Tags,Status\n")
        for i in range(rows):
            f.write(
                f"Name{i},Family{i % 997},person{i}@example.com,Company {i % 5000},"
                f"+4930{1000000 + i},City {i % 300},\"tag-{i % 7}, tag-{i % 11}\","
                f"{statuses[i % 4]}\n"
            )
    return os.path.getsize(path)


def rss_peak_kib(pid: int) -> int:
    """The process's peak resident set (VmHWM), KiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far (user + system), seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def request(method: str, path: str, token: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(API + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def wait_for_api(proc) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit(f"crm-local exited with {proc.returncode}")
        try:
            urllib.request.urlopen(API + "/openapi.json", timeout=2).read()
            return
        except OSError:
            time.sleep(0.5)
    sys.exit("crm-local did not answer within 5 minutes")


def main() -> None:
    os.makedirs(os.path.join(ROOT, ".local"), exist_ok=True)
    path = os.path.join(ROOT, f".local/bench-import-{ROWS}.csv")
    size = generate(path, ROWS)
    subprocess.run([os.path.join(ROOT, "infra/moto.sh"), "start", str(MOTO_PORT)], check=True, env=ENV)
    crm = None
    try:
        crm = subprocess.Popen(
            [CRM_LOCAL, "dev", "--port", str(DEV_PORT)],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(ROOT, ".local/bench-import-crm.log"), "w"),
        )
        wait_for_api(crm)
        token = subprocess.run(
            [CRM_LOCAL, "token", "--tenant", "bench", "--user", "importer", "--role", "admin"],
            cwd=ROOT, env=ENV, check=True, capture_output=True, text=True,
        ).stdout.strip()
        created = request("POST", "/imports", token, {"file_name": "contacts.csv", "start": "on_upload"})
        import_id = created["import"]["id"]
        upload = created["upload"]
        started = time.monotonic()
        with open(path, "rb") as f:
            put = urllib.request.Request(upload["url"], data=f.read(), method="PUT")
        for name, value in upload["headers"].items():
            put.add_header(name, value)
        urllib.request.urlopen(put, timeout=300).read()
        last = None
        while True:
            imp = request("GET", f"/imports/{import_id}", token)
            if imp["status"] in ("completed", "failed", "cancelled"):
                break
            progress = (imp["rows"], imp.get("progress", {}).get("percent"))
            if progress != last:
                print(f"  {time.monotonic() - started:7.0f} s  {imp['status']:<9} rows {imp['rows']:>8}  "
                      f"{progress[1] or 0:>3} %", flush=True)
                last = progress
            time.sleep(2)
        seconds = time.monotonic() - started
        pids = {"crm-local": crm.pid}
        for name, file in (("moto", f".local/moto-{MOTO_PORT}.pid"), ("dynamodb", f".local/dynamodb-{MOTO_PORT}.pid")):
            try:
                with open(os.path.join(ROOT, file)) as f:
                    pids[name] = int(f.read().strip())
            except OSError:
                pass
        print(f"\nimport of {ROWS} rows ({size / 1e6:.1f} MB) through the local stack of make dev:")
        print(f"  status {imp['status']}: created {imp['created']}, updated {imp['updated']}, "
              f"skipped {imp['skipped']}, failed {imp['failed']}")
        print(f"  {seconds:.0f} s, {ROWS / seconds:.0f} rows/s end to end "
              f"(upload to completed; 100,000 rows would take {100_000 / (ROWS / seconds) / 60:.1f} min)")
        for name, pid in pids.items():
            print(f"  {name:<10} peak resident memory {rss_peak_kib(pid) / 1024:7.1f} MiB, "
                  f"CPU {cpu_seconds(pid):6.1f} s")
        if imp["status"] != "completed" or imp["created"] != ROWS:
            sys.exit("the import did not create every row")
    finally:
        if crm is not None:
            crm.terminate()
            crm.wait()
        subprocess.run([os.path.join(ROOT, "infra/moto.sh"), "stop", str(MOTO_PORT)], env=ENV) if not os.environ.get("BENCH_KEEP") else None


if __name__ == "__main__":
    main()
