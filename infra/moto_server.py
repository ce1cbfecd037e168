"""moto in server mode, one request at a time.

moto's TransactWriteItems snapshots every table and, when a transaction is cancelled, puts
the snapshot back; with concurrent requests that silently drops other requests' writes
(AWS has no such race, and the import processor writes rows concurrently). Serialising the
requests keeps moto's DynamoDB consistent. Otherwise this is `moto_server`.
usage: python infra/moto_server.py HOST PORT
"""

import os
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        with lock:
            # Materialise the body inside the lock: moto builds whole responses anyway.
            return list(app(environ, start_response))

    run_simple(host, port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
