"""moto in server mode, one request at a time, with cheap transactions, checked presigned URLs
and (for tests only) injectable DynamoDB faults.

- Requests are serialised: moto's DynamoDB is not safe under concurrent requests (a cancelled
  TransactWriteItems puts back what it had overwritten, dropping any write another request
  made in between; AWS has no such race, and the import processor writes rows concurrently).
  Bodies are read before the lock, so a slow client holds up only itself.
- TransactWriteItems: moto deep-copies every touched table before each transaction (seconds
  and hundreds of MB per transaction at 20,000 items). Here only the items the transaction
  addresses are copied, and put back exactly when it is cancelled: a cancelled transaction
  changes nothing, a successful one applies all, as on AWS.
- Presigned S3 URLs: moto does not check SigV4 query signatures. Here they are checked before
  the lock and without reading the body, and refused with 403 as S3 does (wrong or missing
  signed header, e.g. Content-Type; expired URL). Secret: MOTO_PRESIGN_SECRET, default `test`.
- moto reads a form-encoded body to guess the service of an unsigned request and, when the body
  is not UTF-8, does not put it back; the request then waited for bytes already read, holding
  the lock until the client gave up (a presigned PUT sent with urllib's default Content-Type).
  The body is now always put back.
- Test-only emulation of DynamoDB faults (throttling, 500s, UnprocessedItems), armed through
  `/_faults/dynamodb`; see `DynamoDBFaults`.
- DynamoDB elsewhere: with a third argument (the URL of `infra/dynamodb/server.js`, dynalite
  on disk with transactions and streams), DynamoDB requests go there, outside the lock, and so
  do DynamoDB Streams requests (that server keeps the streams of its tables); moto keeps every
  other service. Without it, moto's own DynamoDB and DynamoDB Streams serve both. moto's DynamoDB holds every item in memory and scans the table per query, so
  a 20,000-row import grew it to 2.7 GB and slowed it down as the table grew.
- `/moto-api/data.json` (the tests read sent mail there) reads every tracked S3 key's `status`,
  which looks its bucket up; the parts of a multipart upload name no bucket, so once an export
  had uploaded in parts the whole dump failed with NoSuchBucket. Such a key's status is its own.
- Requests are not logged one by one (warnings and errors still are).

Otherwise this is `moto_server`.
usage: python infra/moto_server.py HOST PORT [DYNAMODB_URL]
"""

import copy
import datetime
import hashlib
import hmac
import io
import json
import logging
import os
import sys
import threading
import zlib
import urllib.error
import urllib.request
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

from werkzeug.serving import run_simple

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models.table import Table
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

# --- TransactWriteItems: item-level rollback --------------------------------------------------


class _NoTableCopies:
    """Stands in for the `copy` module inside moto's DynamoDB models: during a transaction a
    deep copy of a whole table is the table itself (moto's rollback then reassigns the same
    object); the items are snapshotted one by one instead."""

    def __init__(self) -> None:
        self.in_transaction = False

    def deepcopy(self, obj, memo=None):
        if self.in_transaction and isinstance(obj, Table):
            return obj
        return copy.deepcopy(obj, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


def _snapshot_items(backend, transact_items) -> list:
    """(table, hash, range, bucket existed, deep copy of the item or None) for every item the
    transaction addresses, taken before it runs."""
    snapshots, seen = [], set()
    for entry in transact_items:
        # All ops of an entry: moto refuses an entry with several, after applying earlier ones.
        for op_type, op in entry.items():
            try:
                table = backend.get_table(op["TableName"])
                if op_type == "Put":
                    key = {name: op["Item"][name] for name in table.table_key_attrs}
                else:
                    key = op["Key"]
                hash_key, range_key = backend.get_keys_value(table, key)
            except Exception:
                continue  # moto cannot address the item either, so it writes nothing there
            if (id(table), hash_key, range_key) in seen:
                continue
            seen.add((id(table), hash_key, range_key))
            # Not table.get_item: its defaultdict lookup would create an empty bucket.
            bucket_existed = hash_key in table.items
            if range_key is None:
                item = table.items.get(hash_key)
            else:
                item = table.items[hash_key].get(range_key) if bucket_existed else None
            snapshots.append((table, hash_key, range_key, bucket_existed, copy.deepcopy(item)))
    return snapshots


def _restore_items(snapshots) -> None:
    # Copies go back, not the live objects: update_item mutates items in place.
    for table, hash_key, range_key, bucket_existed, item in snapshots:
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        elif item is not None:
            table.items[hash_key][range_key] = item
        elif hash_key in table.items:
            bucket = table.items[hash_key]
            bucket.pop(range_key, None)
            if not bucket and not bucket_existed:
                del table.items[hash_key]


def item_level_transactions() -> None:
    shim = _NoTableCopies()
    dynamodb_models.copy = shim
    original = dynamodb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        snapshots = _snapshot_items(self, transact_items)
        streams = {id(s[0]): s[0].stream_shard for s in snapshots if s[0].stream_shard}
        stream_lengths = {key: len(shard.items) for key, shard in streams.items()}
        shim.in_transaction = True
        try:
            return original(self, transact_items)
        except BaseException:
            # Cancelled (TransactionCanceledException, MultipleTransactionsException,
            # validation or anything else): moto may have applied the ops before the failing
            # one, or all of them; undo them, stream records included.
            _restore_items(snapshots)
            for key, shard in streams.items():
                del shard.items[stream_lengths[key] :]
            raise
        finally:
            shim.in_transaction = False

    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items


# --- Request bodies -----------------------------------------------------------------------------


def body_always_put_back() -> None:
    def _get_body(self, environ):
        # moto's version returns None without putting the bytes back when they are not UTF-8.
        try:
            form = environ["CONTENT_TYPE"].startswith("application/x-www-form-urlencoded")
            size = int(environ["CONTENT_LENGTH"])
        except (KeyError, ValueError):
            return None
        if not (form and size):
            return None
        raw = environ["wsgi.input"].read(size)
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return None

    DomainDispatcherApplication._get_body = _get_body


def buffer_body(environ) -> None:
    """Reads the whole body now (moto reads it whole anyway), so that it is not read while the
    lock is held."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked: read to the last chunk
        body = stream.read()
    else:
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        body = stream.read(size) if size > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)


# --- Presigned S3 URLs (SigV4 query authentication) --------------------------------------------

PRESIGN_SECRET = os.environ.get("MOTO_PRESIGN_SECRET", "test")
AMZ_DATE = "%Y%m%dT%H%M%SZ"


def data_json_survives_multipart_parts() -> None:
    from moto.s3 import models as s3_models
    from moto.s3.exceptions import MissingBucket

    status = s3_models.FakeKey.status

    def own_status(self):
        try:
            return status.fget(self)
        except MissingBucket:
            return self._status

    s3_models.FakeKey.status = property(own_status, status.fset)


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def _header(environ, name: str) -> str | None:
    """The value of a request header; None when absent or empty."""
    if name == "content-length" and environ.get("wsgi.input_terminated"):
        return None  # chunked: any Content-Length header does not frame the body
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    return environ.get(key) or None


def _s3_error(status: str, code: str, message: str, **details: str):
    fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in details.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{fields}"
        "<RequestId>0000000000000000</RequestId></Error>"
    ).encode()
    return status, [("Content-Type", "application/xml")], body


def presigned_s3_rejection(environ, now: datetime.datetime | None = None):
    """None when the request is not a presigned S3 request or its signature holds; otherwise
    the (status, headers, body) S3 answers. Reads headers and query only."""
    query = environ.get("QUERY_STRING", "")
    if "X-Amz-Signature=" not in query or environ["REQUEST_METHOD"] == "OPTIONS":
        return None  # S3 answers a CORS preflight to a presigned URL without checking it
    pairs = _query_pairs(query)
    params = dict(pairs)
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        return None
    try:
        access_key, scope = params["X-Amz-Credential"].split("/", 1)
        day, region, service, _ = scope.split("/")
        signed_at = datetime.datetime.strptime(params["X-Amz-Date"], AMZ_DATE)
        expires = int(params["X-Amz-Expires"])
        signed_names = params["X-Amz-SignedHeaders"].split(";")
    except (KeyError, ValueError):
        return _s3_error(
            "400 Bad Request",
            "AuthorizationQueryParametersError",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
            "and X-Amz-Expires parameters.",
        )
    if service != "s3":
        return None
    if not 0 < expires <= 604800:
        return _s3_error(
            "400 Bad Request",
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        )
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    expiry = signed_at + datetime.timedelta(seconds=expires)
    if now > expiry:
        return _s3_error(
            "403 Forbidden",
            "AccessDenied",
            "Request has expired",
            **{
                "X-Amz-Expires": str(expires),
                "Expires": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
    # Computed over the request as sent: a signed header that is missing (e.g. Content-Type)
    # or differs (e.g. Content-Length) gives another signature.
    values = [_header(environ, name) for name in signed_names]
    headers = "".join(
        f"{name}:{' '.join((value or '').split())}\n" for name, value in zip(signed_names, values)
    )
    path = (environ.get("RAW_URI") or quote(environ.get("PATH_INFO", "/"))).split("?", 1)[0]
    canonical_query = "&".join(
        f"{k}={v}"
        for k, v in sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
        if k != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        [
            environ["REQUEST_METHOD"],
            path,
            canonical_query,
            headers,
            ";".join(signed_names),
            "UNSIGNED-PAYLOAD",
        ]
    )
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + PRESIGN_SECRET).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    provided = params["X-Amz-Signature"].encode()
    if None not in values and hmac.compare_digest(expected.encode(), provided):
        return None
    return _s3_error(
        "403 Forbidden",
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        AWSAccessKeyId=access_key,
        StringToSign=string_to_sign,
        SignatureProvided=params["X-Amz-Signature"],
        CanonicalRequest=canonical_request,
    )


# --- Test-only emulation: DynamoDB faults -------------------------------------------------------

FAULTS_PATH = "/_faults/dynamodb"
FAULT_KINDS = ("throttle", "server_error", "unprocessed")  # the order they fire in
DYNAMODB_TARGET = "DynamoDB_20120810."
DYNAMODB_STREAMS_TARGET = "DynamoDBStreams_20120810."
DYNAMODB_ERROR = "com.amazonaws.dynamodb.v20120810#"


def _json_response(status: str, payload) -> tuple[str, list, bytes]:
    body = json.dumps(payload).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("x-amz-crc32", str(zlib.crc32(body))),  # botocore checks it when present
    ]
    return status, headers, body


class DynamoDBFaults:
    """Test-only emulation of DynamoDB's transient failures, so that clients' retries can be
    exercised against moto. Not a model of AWS's throttling: faults fire only when armed.

    `POST /_faults/dynamodb` with {"table": name or null (any), "operations": [...] (absent:
    any), "throttle": n, "server_error": n, "unprocessed": n} arms one rule: its next n
    matching requests answer ProvisionedThroughputExceededException (400), then the next n
    InternalServerError (500), then its next n BatchWriteItem calls apply the first half of
    their items (in request order) and return the rest as UnprocessedItems. `GET` shows the
    rules, their remaining counts and the faults fired; `DELETE` and `POST /moto-api/reset`
    disarm them all. Requests are matched by X-Amz-Target and by the tables named in the body
    (TableName, RequestItems, TransactItems)."""

    def __init__(self) -> None:
        self.rules: list[dict] = []

    def control(self, environ):
        method = environ["REQUEST_METHOD"]
        if method == "DELETE":
            self.rules.clear()
        elif method == "POST":
            try:
                rule = self._parse_rule(json.loads(environ["wsgi.input"].read() or b"{}"))
            except ValueError as e:
                return _json_response("400 Bad Request", {"message": str(e)})
            self.rules.append(rule)
        elif method != "GET":
            return _json_response("405 Method Not Allowed", {"message": "GET, POST or DELETE"})
        fired = {kind: sum(rule["fired"][kind] for rule in self.rules) for kind in FAULT_KINDS}
        return _json_response("200 OK", {"rules": self.rules, "fired": fired})

    @staticmethod
    def _parse_rule(spec) -> dict:
        if not isinstance(spec, dict):
            raise ValueError("a JSON object is expected")
        unknown = set(spec) - {"table", "operations", *FAULT_KINDS}
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        table, operations = spec.get("table"), spec.get("operations")
        if table is not None and not isinstance(table, str):
            raise ValueError("table: a name or null")
        if operations is not None and not (
            isinstance(operations, list) and all(isinstance(o, str) for o in operations)
        ):
            raise ValueError("operations: a list of operation names")
        rule = {"table": table, "operations": operations}
        for kind in FAULT_KINDS:
            n = spec.get(kind, 0)
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ValueError(f"{kind}: a count >= 0")
            rule[kind] = n
        rule["fired"] = {kind: 0 for kind in FAULT_KINDS}
        return rule

    def take(self, environ, operation: str) -> str | None:
        """The fault this request gets, if any, counted as fired."""
        if not any(rule[kind] for rule in self.rules for kind in FAULT_KINDS):
            return None
        try:
            body = json.loads(environ["wsgi.input"].getvalue() or b"{}")
            tables = {body.get("TableName")} | set(body.get("RequestItems") or {})
            for entry in body.get("TransactItems") or []:
                tables |= {op.get("TableName") for op in entry.values()}
        except (ValueError, AttributeError, TypeError):
            return None  # malformed: moto answers it
        batch_write = operation == "BatchWriteItem" and isinstance(body.get("RequestItems"), dict)
        for rule in self.rules:
            if rule["table"] is not None and rule["table"] not in tables:
                continue
            if rule["operations"] is not None and operation not in rule["operations"]:
                continue
            for kind in FAULT_KINDS:
                if rule[kind] and (kind != "unprocessed" or batch_write):
                    rule[kind] -= 1
                    rule["fired"][kind] += 1
                    return kind
        return None

    @staticmethod
    def respond(kind: str, app, environ):
        if kind == "throttle":
            return _json_response(
                "400 Bad Request",
                {
                    "__type": DYNAMODB_ERROR + "ProvisionedThroughputExceededException",
                    "message": "The level of configured provisioned throughput for the table "
                    "was exceeded. Consider increasing your provisioning level with the "
                    "UpdateTable API.",
                },
            )
        if kind == "server_error":
            return _json_response(
                "500 Internal Server Error",
                {
                    "__type": DYNAMODB_ERROR + "InternalServerError",
                    "message": "Internal server error",
                },
            )
        # unprocessed: moto applies the first half, the rest comes back unprocessed
        body = json.loads(environ["wsgi.input"].getvalue())
        writes = [(t, w) for t, ws in body["RequestItems"].items() for w in ws]
        applied, rest = writes[: len(writes) // 2], writes[len(writes) // 2 :]

        def by_table(pairs) -> dict:
            grouped: dict = {}
            for table, write in pairs:
                grouped.setdefault(table, []).append(write)
            return grouped

        if not applied:
            return _json_response("200 OK", {"UnprocessedItems": by_table(rest)})
        halved = json.dumps({**body, "RequestItems": by_table(applied)}).encode()
        status, headers, raw = _call(
            app, {**environ, "wsgi.input": io.BytesIO(halved), "CONTENT_LENGTH": str(len(halved))}
        )
        if not status.startswith("200"):
            return status, headers, raw
        response = json.loads(raw)
        response["UnprocessedItems"] = by_table(rest)
        return _json_response(status, response)


def _call(app, environ) -> tuple[str, list, bytes]:
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=headers)
        return lambda data: None  # moto returns its body; it never calls write()

    body = b"".join(app(environ, start_response))
    return started["status"], started["headers"], body


# --- DynamoDB elsewhere ------------------------------------------------------------------------


def dynamodb_forwarder(url: str):
    """A WSGI app sending DynamoDB requests to `url` as they came and answering what it says."""

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        headers = {
            name: environ[key]
            for name, key in (
                ("Content-Type", "CONTENT_TYPE"),
                ("X-Amz-Target", "HTTP_X_AMZ_TARGET"),
                ("Authorization", "HTTP_AUTHORIZATION"),
                ("X-Amz-Date", "HTTP_X_AMZ_DATE"),
            )
            if environ.get(key)
        }
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=600) as r:
                status, reply, raw = f"{r.status} {r.reason}", r.getheaders(), r.read()
        except urllib.error.HTTPError as e:
            status, reply, raw = f"{e.code} {e.reason}", list(e.headers.items()), e.read()
        kept = [(k, v) for k, v in reply if k.lower() in ("content-type", "x-amz-crc32", "x-amzn-requestid")]
        start_response(status, kept + [("Content-Length", str(len(raw)))])
        return [raw]

    return app


# --- Server -----------------------------------------------------------------------------------


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    dynamodb = dynamodb_forwarder(sys.argv[3]) if len(sys.argv) > 3 else None
    os.environ.setdefault("MOTO_PORT", str(port))
    item_level_transactions()
    body_always_put_back()
    data_json_survives_multipart_parts()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()
    faults = DynamoDBFaults()

    def answer(start_response, status, headers, body):
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]

    def serialised(environ, start_response):
        # Before the body is read: S3 refuses at once. Werkzeug's server then drains the body
        # and closes the connection (it answers every request with Connection: close), so the
        # client reads the 403 rather than a reset.
        rejection = presigned_s3_rejection(environ)
        if rejection:
            return answer(start_response, *rejection)
        buffer_body(environ)
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if dynamodb and target.startswith(DYNAMODB_TARGET):
            # The DynamoDB endpoint serialises its own requests; moto's lock is not needed.
            with lock:
                kind = faults.take(environ, target[len(DYNAMODB_TARGET) :])
            if kind:
                return answer(start_response, *faults.respond(kind, dynamodb, environ))
            return dynamodb(environ, start_response)
        if dynamodb and target.startswith(DYNAMODB_STREAMS_TARGET):
            return dynamodb(environ, start_response)  # the streams of the local DynamoDB's tables
        with lock:
            if path == FAULTS_PATH:
                return answer(start_response, *faults.control(environ))
            if path == "/moto-api/reset" and method == "POST":
                faults.rules.clear()
            if target.startswith(DYNAMODB_TARGET):
                kind = faults.take(environ, target[len(DYNAMODB_TARGET) :])
                if kind:
                    return answer(start_response, *faults.respond(kind, app, environ))
            # Materialise the body inside the lock: moto builds whole responses anyway.
            return list(app(environ, start_response))

    run_simple(host, port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
