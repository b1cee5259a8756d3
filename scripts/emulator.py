"""The local emulator: moto server with each request handled alone.

moto runs requests on threads without a lock, and its TransactWriteItems rolls a failed transaction
back by restoring a copy of the whole table, which can undo other requests' writes made meanwhile.
DynamoDB serialises conflicting transactions; handling one request at a time gives the emulator the
same guarantee, so the concurrency tests test Roster and not the emulator. Connections stay
concurrent (the SDK's pool keeps several open); only request handling is serialised.

Rolling back a failed transaction, moto copies every table the transaction touches, whole, before
each TransactWriteItems: O(table size) per transaction, which makes large tables crawl. With
requests serialised, a snapshot of just the items a transaction touches is enough; it is patched
in below (moto is pinned in requirements-dev.txt, so the patched function is known).

It also answers `GET /_roster/sent-sms`: the text messages SNS has "sent", as a JSON list of
`{to, body}`. And `GET /_roster/sent-mail`: the mails SES has "sent", as JSON
`[{"to": [...], "subject": ..., "body": ...}]`. moto's own `/moto-api/data.json` has them too, but it
serialises every object of every service (every DynamoDB item included), which gets slow.

usage: emulator.py HOST PORT
"""

import json
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def patch_transactions() -> None:
    import copy

    import moto.dynamodb.models as dynamodb
    from moto.dynamodb.models.table import Table

    class TablesStayInPlace:
        """`copy` for moto's dynamodb module: tables are not copied; everything else is."""

        def deepcopy(self, value, memo=None):
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

        def __getattr__(self, name):
            return getattr(copy, name)

    dynamodb.copy = TablesStayInPlace()
    original = dynamodb.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        snapshots = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            hash_key, range_key = self.get_keys_value(table, key)
            before = table.get_item(hash_key, range_key)
            snapshots.append((table, hash_key, range_key, copy.deepcopy(before)))
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, before in reversed(snapshots):
                if before is None:
                    table.delete_item(hash_key, range_key)
                elif range_key is not None:
                    table.items[hash_key][range_key] = before
                else:
                    table.items[hash_key] = before
            raise

    dynamodb.DynamoDBBackend.transact_write_items = transact_write_items


def sent_mail(start_response):
    from moto.ses import ses_backends

    mails = []
    for account in ses_backends.values():
        for backend in account.values():
            for message in backend.sent_messages:
                mails.append(
                    {
                        "to": list(getattr(message, "destinations", {}).get("ToAddresses", [])),
                        "subject": getattr(message, "subject", ""),
                        "body": getattr(message, "body", ""),
                    }
                )
    body = json.dumps(mails).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def sent_sms(start_response):
    from moto.sns import sns_backends

    messages = []
    for account in sns_backends.values():
        for backend in account.values():
            for to, body in backend.sms_messages.values():
                messages.append({"to": to, "body": body})
    body = json.dumps(messages).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    patch_transactions()
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        with lock:
            if environ.get("PATH_INFO") == "/_roster/sent-mail":
                return sent_mail(start_response)
            if environ.get("PATH_INFO") == "/_roster/sent-sms":
                return sent_sms(start_response)
            return list(app(environ, start_response))

    run_simple(host, port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
