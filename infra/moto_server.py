"""moto in server mode, one request at a time, with its transaction backups taken once.

- moto's TransactWriteItems snapshots every table and, when a transaction is cancelled, puts
  the snapshot back; with concurrent requests that silently drops other requests' writes
  (AWS has no such race, and the import processor writes rows concurrently). Serialising the
  requests keeps moto's DynamoDB consistent.
- It also deep-copies a table once per item of the transaction (a record with its audit entry
  and index entries is a dozen), where one copy per table restores the same state: the
  backups are taken once per table and transaction. Behaviour is unchanged; a test run's
  transactions cost a fraction of the time.
- Requests are not logged one by one (warnings and errors still are).

Otherwise this is `moto_server`.
usage: python infra/moto_server.py HOST PORT
"""

import copy
import logging
import os
import sys
import threading

from werkzeug.serving import run_simple

import moto.dynamodb.models as dynamodb_models
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class _BackupOncePerTable:
    """Stands in for the `copy` module inside moto's DynamoDB models: while a transaction is
    being written, a table already backed up is not copied again."""

    def __init__(self) -> None:
        self.backups: dict[int, object] | None = None

    def deepcopy(self, obj, memo=None):
        if self.backups is None:
            return copy.deepcopy(obj, memo)
        if id(obj) not in self.backups:
            self.backups[id(obj)] = copy.deepcopy(obj, memo)
        return self.backups[id(obj)]

    def __getattr__(self, name):
        return getattr(copy, name)


def backup_tables_once() -> None:
    shim = _BackupOncePerTable()
    dynamodb_models.copy = shim
    original = dynamodb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        shim.backups = {}
        try:
            return original(self, transact_items)
        finally:
            shim.backups = None

    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    backup_tables_once()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        with lock:
            # Materialise the body inside the lock: moto builds whole responses anyway.
            return list(app(environ, start_response))

    run_simple(host, port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
