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

Faults, switched per run (issue 16): the emulator can answer as AWS does when it is in trouble.
- `ROSTER_FAULT_RATE` (0..1): that fraction of DynamoDB data calls answer `ThrottlingException`,
  `ProvisionedThroughputExceededException`, HTTP 500 or (transactions) a `TransactionConflict`
  cancellation; of S3 object calls `SlowDown` (503) or 500; of SES sends `TooManyRequestsException`.
- `ROSTER_FAULT_DELAY_RATE` (0..1) and `ROSTER_FAULT_DELAY_SECONDS`: that fraction of DynamoDB
  reads and transactions is carried out, then answered only after the delay (past the SDK's attempt
  timeout: the response is lost, as on a bad network).
- `ROSTER_FAULT_SEED`: the random seed, so a run can be repeated.
- `POST /_roster/faults` changes the rates (`{"rate": .., "delay_rate": .., "delay_seconds": ..}`)
  and adds targeted rules (`{"rules": [{"service": "dynamodb", "match": "<table name>",
  "op": "TransactWriteItems", "fault": "throttle", "count": 3}]}`, a delay rule may say its
  `seconds`, `after` lets that many matching calls pass first: requests whose path or body
  contains `match`, so a test targets its own table in a shared emulator); `DELETE
  /_roster/faults?match=..` removes rules; `GET /_roster/faults` reports the settings and how many
  faults of each kind were injected.
Transactions honour `ClientRequestToken` as DynamoDB does (moto ignores it): the SDK's retry of a
transaction whose answer was lost is answered as the first was, not carried out twice.

usage: emulator.py HOST PORT
"""

import collections
import hashlib
import io
import json
import os
import random
import sys
import threading
import time
import urllib.parse

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


DYNAMODB_DATA_CALLS = {
    "GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem",
    "BatchWriteItem", "TransactWriteItems", "TransactGetItems",
}
# What a delayed answer may be: a read, or a transaction (which its token makes safe to repeat).
DELAYABLE_CALLS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "TransactWriteItems"}
FAULTS_BY_SERVICE = {
    "dynamodb": ["throttle", "throughput", "error500", "conflict"],
    "s3": ["slowdown", "error500"],
    "ses": ["throttle"],
}


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.random = random.Random(os.environ.get("ROSTER_FAULT_SEED"))
        self.rate = float(os.environ.get("ROSTER_FAULT_RATE", "0") or 0)
        self.delay_rate = float(os.environ.get("ROSTER_FAULT_DELAY_RATE", "0") or 0)
        self.delay_seconds = float(os.environ.get("ROSTER_FAULT_DELAY_SECONDS", "4") or 4)
        self.rules = []
        self.injected = collections.Counter()
        self.calls = collections.Counter()

    def report(self):
        with self.lock:
            return {
                "rate": self.rate,
                "delay_rate": self.delay_rate,
                "delay_seconds": self.delay_seconds,
                "rules": list(self.rules),
                "injected": dict(self.injected),
                "injected_total": sum(self.injected.values()),
                "calls": dict(self.calls),
            }

    def configure(self, settings):
        with self.lock:
            for name in ("rate", "delay_rate", "delay_seconds"):
                if name in settings:
                    setattr(self, name, float(settings[name]))
            for rule in settings.get("rules", []):
                self.rules.append(dict(rule))

    def remove(self, match):
        with self.lock:
            self.rules = [r for r in self.rules if match is not None and r.get("match") != match]

    def choose(self, service, op, text):
        """The fault to inject into this call, if any, and how long a delay lasts: a targeted rule
        first, then the run's rates."""
        with self.lock:
            self.calls[service] += 1
            for rule in self.rules:
                if rule.get("service") != service:
                    continue
                if rule.get("op") and rule["op"] != op:
                    continue
                if rule.get("match") and rule["match"] not in text:
                    continue
                if self.random.random() >= float(rule.get("rate", 1.0)):
                    continue
                if rule.get("after", 0) > 0:
                    rule["after"] -= 1
                    continue
                if "count" in rule:
                    if rule["count"] <= 0:
                        continue
                    rule["count"] -= 1
                return self.count(rule["fault"]), float(rule.get("seconds", self.delay_seconds))
            if op in DELAYABLE_CALLS and self.random.random() < self.delay_rate:
                return self.count("delay"), self.delay_seconds
            if self.random.random() < self.rate:
                kinds = [k for k in FAULTS_BY_SERVICE[service] if k != "conflict" or op == "TransactWriteItems"]
                return self.count(self.random.choice(kinds)), 0
            return None, 0

    def count(self, fault):
        self.injected[fault] += 1
        return fault


def respond(start_response, status, headers, body):
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]


def dynamodb_fault(start_response, fault, request):
    def error(status, kind, message, extra=None):
        body = {"__type": f"com.amazonaws.dynamodb.v20120810#{kind}", "message": message}
        body.update(extra or {})
        return respond(
            start_response,
            status,
            [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", "fault")],
            json.dumps(body).encode(),
        )

    if fault == "throttle":
        return error("400 Bad Request", "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
    if fault == "throughput":
        return error(
            "400 Bad Request",
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        )
    if fault == "conflict":
        items = len(request.get("TransactItems", [])) or 1
        reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
        reasons += [{"Code": "None"}] * (items - 1)
        return error(
            "400 Bad Request",
            "TransactionCanceledException",
            "Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{', '.join(r['Code'] for r in reasons)}]",
            {"CancellationReasons": reasons},
        )
    return error("500 Internal Server Error", "InternalServerError", "Internal server error")


def s3_fault(start_response, fault):
    code, status = ("SlowDown", "503 Slow Down") if fault == "slowdown" else ("InternalError", "500 Internal Server Error")
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>injected fault</Message><RequestId>fault</RequestId></Error>"
    ).encode()
    return respond(start_response, status, [("Content-Type", "application/xml")], body)


def ses_fault(start_response):
    return respond(
        start_response,
        "429 Too Many Requests",
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", "TooManyRequestsException")],
        json.dumps({"message": "Maximum sending rate exceeded."}).encode(),
    )


def service_of(environ):
    """(service, operation) of a signed AWS call that faults may hit; None for the rest (control
    calls, presigned uploads made by clients, other services)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("DynamoDB_20120810."):
        op = target.split(".", 1)[1]
        return ("dynamodb", op) if op in DYNAMODB_DATA_CALLS else None
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    path = environ.get("PATH_INFO", "")
    if "/s3/aws4_request" in authorization:
        parts = [p for p in path.split("/") if p]
        query = environ.get("QUERY_STRING", "")
        if len(parts) >= 2 or (len(parts) == 1 and "list-type=2" in query):
            return ("s3", environ.get("REQUEST_METHOD", "GET"))
        return None
    if "/ses/aws4_request" in authorization and path.startswith("/v2/email/outbound-emails"):
        return ("ses", "SendEmail")
    return None


class TransactionTokens:
    """DynamoDB's ClientRequestToken: a repeated TransactWriteItems with the same token and the
    same request is answered as the first was, without being carried out again."""

    def __init__(self, capacity=20000):
        self.answers = collections.OrderedDict()
        self.capacity = capacity

    def replay(self, token, digest):
        kept = self.answers.get(token)
        if kept is None:
            return None
        if kept[0] != digest:
            body = json.dumps({
                "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                "message": "The request uses the same client token as a previous, but non-identical request.",
            }).encode()
            return ("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0")], body)
        return kept[1]

    def keep(self, token, digest, answer):
        self.answers[token] = (digest, answer)
        while len(self.answers) > self.capacity:
            self.answers.popitem(last=False)


def faults_endpoint(environ, start_response, faults):
    method = environ.get("REQUEST_METHOD")
    if method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        faults.configure(json.loads(environ["wsgi.input"].read(length) or b"{}"))
    elif method == "DELETE":
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        faults.remove(query.get("match", [None])[0])
    body = json.dumps(faults.report()).encode()
    return respond(start_response, "200 OK", [("Content-Type", "application/json")], body)


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
    faults = Faults()
    tokens = TransactionTokens()

    def carried_out(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    def serialised(environ, start_response):
        path = environ.get("PATH_INFO")
        if path == "/_roster/faults":
            return faults_endpoint(environ, start_response, faults)
        if path == "/_roster/sent-mail":
            with lock:
                return sent_mail(start_response)
        if path == "/_roster/sent-sms":
            with lock:
                return sent_sms(start_response)
        called = service_of(environ)
        if called is None:
            return carried_out(environ, start_response)
        service, op = called
        body = b""
        if service != "s3":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
        request = json.loads(body or b"{}") if service == "dynamodb" else {}
        fault, delay = faults.choose(service, op, path + body.decode("utf-8", "replace"))
        if fault not in (None, "delay"):
            if service == "dynamodb":
                return dynamodb_fault(start_response, fault, request)
            if service == "s3":
                return s3_fault(start_response, fault)
            return ses_fault(start_response)
        token = request.get("ClientRequestToken") if op == "TransactWriteItems" else None
        digest = hashlib.sha256(body).hexdigest()
        with lock:
            answer = tokens.replay(token, digest) if token else None
            if answer is None:
                captured = {}

                def capture(status, headers, exc_info=None):
                    captured["status"], captured["headers"] = status, headers
                    return lambda data: None

                chunks = b"".join(app(environ, capture))
                answer = (captured["status"], captured["headers"], chunks)
                if token and answer[0].startswith("200"):
                    tokens.keep(token, digest, answer)
        if fault == "delay":
            # Carried out, but answered too late: the SDK has timed out and retried meanwhile.
            time.sleep(delay)
        # The headers as moto gave them: a HEAD's Content-Length is the object's, not the body's.
        status, headers, chunks = answer
        start_response(status, headers)
        return [chunks]

    run_simple(host, port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
