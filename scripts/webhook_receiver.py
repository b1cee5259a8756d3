"""Webhooks heard by a receiver nobody here wrote the checks of: every delivery the local stack
sends is verified with the official `standardwebhooks` package (pinned in requirements-dev.txt),
which must accept every signature and refuse it once one byte of the body changes. The receiver
then goes down for a moment: the events made meanwhile arrive once it is back (the 5 s retry),
each once after deduplication by `webhook-id`. It also reports the time from a member's creation
to its delivery (SPEC §9.6 targets 5 s on the local stack; the benchmark is scripts/bench.sh
webhooks).

Run by scripts/webhooks-conformance.sh as `webhook_receiver.py GATEWAY EMULATOR ADMIN PASSWORD`."""

import json
import secrets
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from roster_py.api import Failure, run
from roster_py.tenant import from_command_line


class Heard:
    """What the receiver got: verified deliveries by webhook-id, refusals, and when each came."""

    def __init__(self):
        self.lock = threading.Lock()
        self.secret = None
        self.down = False
        self.attempts = {}  # webhook-id -> attempts seen
        self.delivered = {}  # webhook-id -> (event, arrival time), accepted once
        self.forged_accepted = 0
        self.unverified = []


HEARD = Heard()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        with HEARD.lock:
            msg_id = headers.get("webhook-id", "")
            HEARD.attempts[msg_id] = HEARD.attempts.get(msg_id, 0) + 1
            if HEARD.down:
                self.answer(503)
                return
            verifier = Webhook(HEARD.secret)
            try:
                event = verifier.verify(body, headers)
            except WebhookVerificationError as error:
                HEARD.unverified.append(f"{msg_id}: {error}")
                self.answer(400)
                return
            tampered = bytearray(body)
            tampered[len(tampered) // 2] ^= 0x01
            try:
                verifier.verify(bytes(tampered), headers)
                HEARD.forged_accepted += 1
            except WebhookVerificationError:
                pass
            HEARD.delivered.setdefault(msg_id, (event, time.monotonic()))
        self.answer(204)

    def answer(self, status):
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def wait_for(ids, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with HEARD.lock:
            if ids <= HEARD.delivered.keys():
                return
        time.sleep(0.2)
    with HEARD.lock:
        missing = ids - HEARD.delivered.keys()
    raise Failure(f"{len(missing)} events never arrived: {sorted(missing)[:5]}")


def events_since(client, owned, cursor):
    """Every event of the tenant after `cursor`, and the next cursor."""
    path = f"/v1/tenants/{owned.tenant['id']}/events"
    events = []
    while True:
        page = client.api("GET", path + (f"?after={cursor}" if cursor else ""), owned.token)
        events += page["items"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return events, cursor


def settled_events(client, owned, cursor, want, since):
    """The tenant's events after `cursor` made since `since` (an endpoint hears only those), once
    `want` of them are numbered (the sequencer runs on the stream)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events, _ = events_since(client, owned, cursor)
        events = [e for e in events if e["id"] > since]
        if len(events) >= want:
            return events
        time.sleep(0.3)
    raise Failure(f"only {len(events)} of {want} events were numbered")



def add_member(client, owned, name):
    body = {"email": f"{name.lower()}-{secrets.token_hex(3)}@hooks.test", "name": name,
            "department_id": owned.tenant["root_department_id"]}
    return client.api("POST", f"/v1/tenants/{owned.tenant['id']}/members", owned.token, body,
                      expect=(201,))


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/roster"
    client, owned = from_command_line(sys.argv[1:])
    _, cursor = events_since(client, owned, "")
    hook = client.api("POST", f"/v1/tenants/{owned.tenant['id']}/webhooks", owned.token,
                      {"url": url, "description": "conformance receiver"}, expect=(201,))
    HEARD.secret = hook["secret"]
    since = hook["id"]  # UUIDv7: the events made after the endpoint have larger ids

    # Changes of several kinds, each timed to its delivery.
    made = {}
    for i in range(8):
        member = add_member(client, owned, f"Hook{i}")
        made[member["id"]] = time.monotonic()
    department = client.api("POST", f"/v1/tenants/{owned.tenant['id']}/departments", owned.token,
                            {"name": "Hooks", "parent_id": owned.tenant["root_department_id"]},
                            expect=(201,))
    client.api("DELETE", f"/v1/tenants/{owned.tenant['id']}/departments/{department['id']}",
               owned.token, expect=(204,))
    events = settled_events(client, owned, cursor, 10, since)
    wait_for({e["id"] for e in events})

    # Down for a moment: what is made meanwhile arrives when it is back, once.
    with HEARD.lock:
        HEARD.down = True
    _, cursor = events_since(client, owned, cursor)
    late = add_member(client, owned, "Late")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with HEARD.lock:
            if any(i not in HEARD.delivered for i in HEARD.attempts):
                break  # an attempt came while down: the receiver comes back
        time.sleep(0.1)
    with HEARD.lock:
        HEARD.down = False
    late_events = settled_events(client, owned, cursor, 1, since)
    late_ids = {e["id"] for e in late_events}
    wait_for(late_ids)

    with HEARD.lock:
        if HEARD.unverified:
            raise Failure(f"standardwebhooks refused {len(HEARD.unverified)}: {HEARD.unverified[:3]}")
        if HEARD.forged_accepted:
            raise Failure(f"standardwebhooks accepted {HEARD.forged_accepted} tampered bodies")
        retried = [i for i in late_ids if HEARD.attempts.get(i, 0) >= 2]
        if not retried:
            raise Failure("the events made while the receiver was down were not retried")
        delivered = dict(HEARD.delivered)
    early = [event for event, _ in delivered.values() if event["id"] < hook["id"]]
    if early:
        raise Failure(f"{len(early)} events made before the endpoint reached it: "
                      f"{[(e['type'], e['occurred_at']) for e in early][:3]}, endpoint {hook['created_at']}")
    kinds = sorted({event["type"] for event, _ in delivered.values()})
    latencies = [arrived - made[event["data"]["id"]]
                 for event, arrived in delivered.values()
                 if event["type"] == "member.created" and event["data"]["id"] in made]
    print(f"standardwebhooks verified {len(delivered)} deliveries ({', '.join(kinds)}); "
          f"every tampered body refused; {len(retried)} retried after the receiver came back; "
          f"member create to delivery: median {statistics.median(latencies):.2f} s, "
          f"max {max(latencies):.2f} s over {len(latencies)} ({late['id'][:8]}… delivered once)")
    server.shutdown()


if __name__ == "__main__":
    run(main)
