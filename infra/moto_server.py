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
- Test-only emulation of faults: throttling, 500s, transactions in progress, UnprocessedItems
  and delays (so that SDK timeouts fire) for DynamoDB, SQS, SES, Scheduler and S3, armed
  through `/_faults/{service}`; see `Faults`. TransactWriteItems keeps its ClientRequestToken
  for 10 minutes as AWS does (`TransactionTokens`), so a retried transaction that already
  landed is not applied twice, and one retried while it still runs is told it is in progress.
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
import time
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


# --- Test-only emulation: faults ----------------------------------------------------------------

FAULTS_PREFIX = "/_faults/"
FAULTS_PATH = FAULTS_PREFIX + "dynamodb"
FAULT_KINDS = ("throttle", "server_error", "in_progress", "unprocessed", "delay")  # firing order
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


def _dynamodb_error(error: str, message: str, status: str = "400 Bad Request"):
    """DynamoDB's answer for the error `error` (its shape on the wire: `__type` and `message`)."""
    return _json_response(status, {"__type": DYNAMODB_ERROR + error, "message": message})


def _request_text(environ) -> str:
    """Path, query and body of a buffered request as text, for a rule's `match`."""
    body = environ["wsgi.input"].getvalue().decode("latin-1")
    return f"{environ.get('PATH_INFO', '')}?{environ.get('QUERY_STRING', '')}\n{body}"


class Faults:
    """Test-only emulation of a service's transient failures, so that clients' retries and the
    flows above them can be exercised against moto. Not a model of AWS's throttling: faults
    fire only when armed, and only on requests a rule matches.

    `POST /_faults/{service}` with {"operations": [...] (absent: any), "match": text or null
    (a substring of the request's path, query or body: a table, queue, bucket or schedule
    group name, a key, an address), "throttle": n, "server_error": n, "in_progress": n,
    "unprocessed": n, "delay": n, "delay_ms": ms} arms one rule: its next n matching requests
    answer the service's throttling error, then the next n its internal server error, then
    (DynamoDB) its next n TransactWriteItems calls TransactionInProgressException (what AWS
    answers while a transaction with the same token still runs), then its next n
    BatchWriteItem calls apply the first half of their items and return the rest as
    UnprocessedItems, then its next n requests wait `delay_ms` before they are served as usual
    (so a client's attempt timeout fires first while the request still lands later, as on a
    slow service; a rule's `held` counts its delayed requests not yet served). DynamoDB rules
    also take "table" (a name the request addresses). `GET` shows the rules, their remaining
    counts and the faults fired; `DELETE` disarms them all,
    `DELETE ?match=X` (or `?table=X`) only those armed with that match or table;
    `POST /moto-api/reset` disarms every service's."""

    def __init__(self, service: str = "dynamodb") -> None:
        self.service = service
        self.rules: list[dict] = []

    def control(self, environ):
        method = environ["REQUEST_METHOD"]
        if method == "DELETE":
            only = dict(_query_pairs(environ.get("QUERY_STRING", "")))
            scope = only.get("match") or only.get("table")
            self.rules[:] = [
                r for r in self.rules if scope and scope not in (r["match"], r.get("table"))
            ]
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

    def _parse_rule(self, spec) -> dict:
        if not isinstance(spec, dict):
            raise ValueError("a JSON object is expected")
        known = {"operations", "match", "delay_ms", *FAULT_KINDS}
        if self.service == "dynamodb":
            known.add("table")
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        table, operations, match = spec.get("table"), spec.get("operations"), spec.get("match")
        for name, value in (("table", table), ("match", match)):
            if value is not None and not (isinstance(value, str) and value):
                raise ValueError(f"{name}: a non-empty string or null")
        if operations is not None and not (
            isinstance(operations, list) and all(isinstance(o, str) for o in operations)
        ):
            raise ValueError("operations: a list of operation names")
        rule = {"operations": operations, "match": match}
        if self.service == "dynamodb":
            rule["table"] = table
        for kind in (*FAULT_KINDS, "delay_ms"):
            n = spec.get(kind, 0)
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ValueError(f"{kind}: a count >= 0")
            rule[kind] = n
        if rule["unprocessed"] and self.service != "dynamodb":
            raise ValueError("unprocessed: DynamoDB's BatchWriteItem only")
        if rule["in_progress"] and self.service != "dynamodb":
            raise ValueError("in_progress: DynamoDB's TransactWriteItems only")
        if rule["delay"] and not rule["delay_ms"]:
            raise ValueError("delay: needs delay_ms > 0")
        rule["fired"] = {kind: 0 for kind in FAULT_KINDS}
        return rule

    def take(self, environ, operation: str) -> tuple[str, dict] | None:
        """The fault this request gets and its rule, if any, counted as fired."""
        if not any(rule[kind] for rule in self.rules for kind in FAULT_KINDS):
            return None
        tables: set = set()
        batch_write = False
        if self.service == "dynamodb":
            try:
                body = json.loads(environ["wsgi.input"].getvalue() or b"{}")
                tables = {body.get("TableName")} | set(body.get("RequestItems") or {})
                for entry in body.get("TransactItems") or []:
                    tables |= {op.get("TableName") for op in entry.values()}
            except (ValueError, AttributeError, TypeError):
                return None  # malformed: moto answers it
            batch_write = operation == "BatchWriteItem" and isinstance(
                body.get("RequestItems"), dict
            )
        # The kinds only some operations can get.
        applies = {"unprocessed": batch_write, "in_progress": operation == "TransactWriteItems"}
        text = None
        for rule in self.rules:
            if rule.get("table") is not None and rule["table"] not in tables:
                continue
            if rule["operations"] is not None and operation not in rule["operations"]:
                continue
            if rule["match"] is not None:
                text = _request_text(environ) if text is None else text
                if rule["match"] not in text:
                    continue
            for kind in FAULT_KINDS:
                if rule[kind] and applies.get(kind, True):
                    rule[kind] -= 1
                    rule["fired"][kind] += 1
                    return kind, rule
        return None

    def respond(self, kind: str, app, environ):
        if self.service != "dynamodb":
            return _service_error(self.service, kind)
        if kind == "throttle":
            return _dynamodb_error(
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded. "
                "Consider increasing your provisioning level with the UpdateTable API.",
            )
        if kind == "in_progress":
            return TransactionTokens.in_progress()
        if kind == "server_error":
            return _dynamodb_error(
                "InternalServerError", "Internal server error", "500 Internal Server Error"
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


DynamoDBFaults = Faults  # the DynamoDB rules' class, by its earlier name

# (status, error code) per service and kind, as each service's protocol answers them: SQS
# (AWS JSON 1.0), SES v2 and Scheduler (REST-JSON, the code in x-amzn-ErrorType), S3 (XML).
SERVICE_ERRORS = {
    "sqs": {
        "throttle": ("400 Bad Request", "ThrottlingException"),
        "server_error": ("500 Internal Server Error", "InternalError"),
    },
    "ses": {
        "throttle": ("429 Too Many Requests", "TooManyRequestsException"),
        "server_error": ("500 Internal Server Error", "InternalFailure"),
    },
    "scheduler": {
        "throttle": ("429 Too Many Requests", "ThrottlingException"),
        "server_error": ("500 Internal Server Error", "InternalServerException"),
    },
    "s3": {
        "throttle": ("503 Slow Down", "SlowDown"),
        "server_error": ("500 Internal Server Error", "InternalError"),
    },
}
SERVICE_MESSAGES = {"throttle": "Rate exceeded", "server_error": "Internal failure (injected)"}


def _service_error(service: str, kind: str):
    status, code = SERVICE_ERRORS[service][kind]
    message = SERVICE_MESSAGES[kind]
    if service == "s3":
        return _s3_error(status, code, message)
    body = {"__type": code, "message": message}
    if service == "sqs":
        status_line, headers, raw = _json_response(status, body)
        return status_line, headers + [("x-amzn-query-error", f"{code};Sender")], raw
    raw = json.dumps(body).encode()
    return status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)], raw


def _service_of(environ) -> str | None:
    """The service a request is signed for (its SigV4 credential scope; SES v2 signs as `ses`)."""
    credential = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in credential:
        credential = credential.split("Credential=", 1)[1].split(",", 1)[0]
    else:
        credential = dict(_query_pairs(environ.get("QUERY_STRING", ""))).get("X-Amz-Credential", "")
    scope = credential.split("/")
    return scope[3] if len(scope) == 5 else None


def _operation_of(service: str, environ) -> str:
    """The API operation a request calls: its X-Amz-Target's, or read off the REST route."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    query = dict(_query_pairs(environ.get("QUERY_STRING", "")))
    if service == "ses" and path.startswith("/v2/email/outbound-emails"):
        return "SendEmail"
    if service == "scheduler" and path.startswith("/schedules/"):
        verbs = {"POST": "Create", "GET": "Get", "PUT": "Update", "DELETE": "Delete"}
        return verbs.get(method, method) + "Schedule"
    if service == "s3":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload"}.get(
                method, "AbortMultipartUpload" if method == "DELETE" else "ListParts"
            )
        verbs = {"PUT": "Put", "GET": "Get", "HEAD": "Head", "DELETE": "Delete"}
        return verbs.get(method, method) + "Object"
    return query.get("Action") or f"{method} {path}"


# --- TransactWriteItems: ClientRequestToken ---------------------------------------------------


class TransactionTokens:
    """TransactWriteItems is idempotent on AWS for 10 minutes per ClientRequestToken (the SDK
    sets one per call and keeps it across its retries): a repeat of a transaction that
    succeeded succeeds again without writing; a repeat while the first is still under way is
    told so (TransactionInProgressException, which the SDKs retry as throttling); the same
    token with other items is refused (IdempotentParameterMismatchException). Neither moto nor
    dynalite keep tokens, so a retry after an attempt timed out while its transaction still
    ran or landed (a `delay` fault, or a slow machine) would fail its own conditions there;
    here it answers as AWS does."""

    WINDOW_SECONDS = 600

    def __init__(self) -> None:
        self.done: dict[str, tuple[str, float]] = {}  # token -> (fingerprint, when)
        self.running: dict[str, str] = {}  # token -> fingerprint, under way

    @staticmethod
    def _read(environ) -> tuple[str | None, str]:
        try:
            body = json.loads(environ["wsgi.input"].getvalue() or b"{}")
        except ValueError:
            return None, ""
        token = body.pop("ClientRequestToken", None) if isinstance(body, dict) else None
        return token, hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    @staticmethod
    def in_progress():
        return _dynamodb_error(
            "TransactionInProgressException",
            "The transaction with the given request token is already in progress.",
        )

    def begin(self, environ):
        """The answer to a transaction whose token is known (done or under way), or None: then
        it is under way until `end`."""
        token, fingerprint = self._read(environ)
        now = time.monotonic()
        self.done = {t: v for t, v in self.done.items() if now - v[1] < self.WINDOW_SECONDS}
        if token is None:
            return None
        known = self.done[token][0] if token in self.done else self.running.get(token)
        if known is not None and known != fingerprint:
            return _dynamodb_error(
                "IdempotentParameterMismatchException",
                "The request uses the same client token as a previous, but non-identical request.",
            )
        if token in self.done:
            return _json_response("200 OK", {})
        if token in self.running:
            return self.in_progress()
        self.running[token] = fingerprint
        return None

    def end(self, environ, status: str) -> None:
        token, fingerprint = self._read(environ)
        if token is None:
            return
        self.running.pop(token, None)
        if status.startswith("200"):
            self.done[token] = (fingerprint, time.monotonic())


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
    faults = {"dynamodb": Faults("dynamodb"), **{name: Faults(name) for name in SERVICE_ERRORS}}
    tokens = TransactionTokens()

    def answer(start_response, status, headers, body):
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]

    def fault_for(service: str, environ, operation: str):
        """(kind, rule) of the fault armed for this request, after any delay it gets."""
        with lock:
            taken = faults[service].take(environ, operation)
            if taken and taken[0] == "delay":
                taken[1]["held"] = taken[1].get("held", 0) + 1
        if taken and taken[0] == "delay":
            time.sleep(taken[1]["delay_ms"] / 1000)  # outside the lock: it holds up no other
            environ["faults.held"] = taken[1]
            return None
        return taken

    def released(environ, response):
        """`response`, once a delayed request is served: its rule's `held` counts it no more."""
        rule = environ.get("faults.held")
        if rule is not None:
            with lock:
                rule["held"] -= 1
        return response

    def dynamodb_call(backend, environ, start_response, operation: str):
        """A DynamoDB request to `backend`, with its injected fault and, for a transaction,
        its client token kept. A delay holds the request before it reaches the service (it
        lands once its client gave up on it); the token is under way only while the service
        runs the transaction."""
        taken = fault_for("dynamodb", environ, operation)
        if taken:
            return answer(start_response, *faults["dynamodb"].respond(taken[0], backend, environ))
        if operation != "TransactWriteItems":
            return list(backend(environ, start_response))
        with lock:
            known = tokens.begin(environ)
        if known:
            return answer(start_response, *known)
        status = "500 Internal Server Error"
        try:
            status, headers, body = _call(backend, environ)
        finally:
            with lock:
                tokens.end(environ, status)
        return answer(start_response, status, headers, body)

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
            operation = target[len(DYNAMODB_TARGET) :]
            return released(environ, dynamodb_call(dynamodb, environ, start_response, operation))
        if dynamodb and target.startswith(DYNAMODB_STREAMS_TARGET):
            return dynamodb(environ, start_response)  # the streams of the local DynamoDB's tables
        if path.startswith(FAULTS_PREFIX):
            service = path[len(FAULTS_PREFIX) :]
            if service not in faults:
                message = f"no faults for {service!r}: one of {sorted(faults)}"
                return answer(start_response, *_json_response("404 Not Found", {"message": message}))
            with lock:
                return answer(start_response, *faults[service].control(environ))
        if path == "/moto-api/reset" and method == "POST":
            with lock:
                for service in faults.values():
                    service.rules.clear()
        if target.startswith(DYNAMODB_TARGET):
            # moto's own DynamoDB: the fault (and any delay) outside the lock, moto inside it.
            def locked(environ, start_response):
                with lock:
                    return list(app(environ, start_response))

            operation = target[len(DYNAMODB_TARGET) :]
            return released(environ, dynamodb_call(locked, environ, start_response, operation))
        service = _service_of(environ)
        if service in SERVICE_ERRORS:
            taken = fault_for(service, environ, _operation_of(service, environ))
            if taken:
                return answer(start_response, *faults[service].respond(taken[0], app, environ))
        with lock:
            # Materialise the body inside the lock: moto builds whole responses anyway.
            response = list(app(environ, start_response))
        return released(environ, response)

    run_simple(host, port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
