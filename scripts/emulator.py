"""The local emulator: moto server with each request handled alone.

moto runs requests on threads without a lock, and its TransactWriteItems rolls a failed transaction
back by restoring a copy of the whole table, which can undo other requests' writes made meanwhile.
DynamoDB serialises conflicting transactions; handling one request at a time gives the emulator the
same guarantee, so the concurrency tests test Roster and not the emulator. Connections stay
concurrent (the SDK's pool keeps several open); only request handling is serialised.

usage: emulator.py HOST PORT
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    run_simple(host, port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
