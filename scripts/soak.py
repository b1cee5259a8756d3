"""The soak workload (scripts/soak.sh runs it): several clients at once drive a mixed workload
against a local gateway on loopback for a set time or number of requests, as SPEC.md §8.6's client
does: a 503 is retried after its Retry-After, every create carries an Idempotency-Key, and a
connection refused while the gateway restarts is retried. Prints a JSON summary on its last line.

usage: soak.py GATEWAY_URL EMULATOR_URL SECONDS MAX_REQUESTS CLIENTS
(environment: ROSTER_BOOTSTRAP_EMAIL, ROSTER_BOOTSTRAP_PASSWORD)
"""

import collections
import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.parse
import uuid

from roster_py import api, mail
from roster_py.tenant import tenant_with_owner

GATEWAY, EMULATOR = sys.argv[1], sys.argv[2]
SECONDS, MAX_REQUESTS, CLIENTS = float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
for url in (GATEWAY, EMULATOR):
    host = urllib.parse.urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"soak.py drives loopback only, not {host}")

lock = threading.Lock()
stats = collections.Counter()
statuses = collections.Counter()
# Client errors by problem code: which refusals the workload ran into (quota, conflicts...).
problems = collections.Counter()
failures = []
deadline = time.monotonic() + SECONDS


def budget_left():
    with lock:
        return stats["requests"] < MAX_REQUESTS and time.monotonic() < deadline


def send(method, url, **request):
    """One logical request (api.call's arguments): retried on 503 (same Idempotency-Key) and on a
    refused connection; counted."""
    key = str(uuid.uuid4()) if method == "POST" and url.startswith(GATEWAY + "/") else None
    for _ in range(60):
        with lock:
            stats["requests"] += 1
        try:
            answer = api.call(method, url, headers={"idempotency-key": key} if key else None, **request)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            with lock:
                stats["connection_errors"] += 1
            time.sleep(0.5)
            continue
        status, body = answer.status, answer.body
        with lock:
            statuses[status] += 1
        if status == 503:
            with lock:
                stats["unavailable_503"] += 1
            retry_after = body.get("retry_after") if isinstance(body, dict) else None
            time.sleep(min(float(retry_after or 1), 2))
            continue
        if status >= 500:
            with lock:
                stats["server_errors_5xx"] += 1
                failures.append(f"{method} {url.removeprefix(GATEWAY)} -> {status}: {str(body)[:300]!r}")
        if 400 <= status < 500 and isinstance(body, dict):
            with lock:
                problems[f"{status} {body.get('code')}"] += 1
        return answer
    return api.Answer(599, None, None)


gateway = api.Client(GATEWAY, EMULATOR, send)


def call(method, path, token=None, body=None, base=GATEWAY, **request):
    """(status, body) of send to `base + path`."""
    status, answer, _ = send(method, base + path, token=token, body=body, **request)
    return status, answer


def new_tenant(admin, n):
    owned = tenant_with_owner(
        gateway, admin, f"owner-{uuid.uuid4().hex[:10]}@soak{n}.test", "soak-owner-password-1",
        name=f"Soak {n}", member_quota=400, seats_total=40, owner_name="Soak Owner")
    root = owned.tenant["root_department_id"]
    return {"id": owned.tenant["id"], "root": root, "token": owned.token, "members": [], "departments": [root]}


def client(number, tenant):
    rng = random.Random(number)
    base = f"/v1/tenants/{tenant['id']}"
    token = tenant["token"]
    while budget_left():
        action = rng.choices(
            ["create", "edit", "move", "department", "invite", "seats", "bulk", "import", "export"],
            weights=[30, 15, 15, 4, 10, 10, 6, 4, 3],
        )[0]
        with lock:
            stats[f"action_{action}"] += 1
        members = tenant["members"]
        if action == "create" or not members:
            email = f"m-{uuid.uuid4().hex[:12]}@soak.test"
            status, member = call("POST", f"{base}/members", token, {
                "email": email, "name": f"Soak Member {rng.randint(1, 9999)}",
                "department_id": rng.choice(tenant["departments"]),
            })
            if status == 201:
                members.append(member["id"])
        elif action == "edit":
            call("PATCH", f"{base}/members/{rng.choice(members)}", token,
                 {"position": rng.choice(["Rep", "Lead", "Engineer", "Clerk"])})
        elif action == "move":
            call("PATCH", f"{base}/members/{rng.choice(members)}", token,
                 {"department_id": rng.choice(tenant["departments"])})
        elif action == "department":
            status, department = call("POST", f"{base}/departments", token, {
                "name": f"Dept {uuid.uuid4().hex[:6]}", "parent_id": rng.choice(tenant["departments"]),
            })
            if status == 201:
                tenant["departments"].append(department["id"])
        elif action == "invite":
            email = f"i-{uuid.uuid4().hex[:12]}@soak.test"
            status, _ = call("POST", f"{base}/invitations", token,
                             {"email": email, "department_id": tenant["root"]})
            link = mail.mailed_token(gateway, email, "invitations/accept", wait=0) if status == 201 else None
            if link:
                call("POST", f"/v1/invitations/{link}/accept",
                     body={"name": "Invited Soaker", "password": "soak-invitee-password-1"})
        elif action == "seats":
            chosen = rng.sample(members, min(len(members), rng.randint(1, 5)))
            if rng.random() < 0.6:
                expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 90 * 86400))
                call("POST", f"{base}/licences/assign", token,
                     {"member_ids": chosen, "expires_at": expires, "skip_conflicts": True})
            else:
                call("POST", f"{base}/licences/revoke", token, {"member_ids": chosen, "skip_conflicts": True})
        elif action == "bulk":
            chosen = rng.sample(members, min(len(members), rng.randint(1, 20)))
            call("POST", f"{base}/members/bulk-status", token,
                 {"member_ids": chosen, "status": rng.choice(["active", "disabled"])})
        elif action == "import":
            status, created = call("POST", f"{base}/imports", token, {"mode": "create", "send_email": False})
            if status == 201:
                rows = "".join(f"imp-{uuid.uuid4().hex[:12]}@soak.test,Imported {i}\n" for i in range(rng.randint(5, 40)))
                call("PUT", created["upload_url"], body=None, base="", content_type="text/csv",
                     raw=("email,name\n" + rows).encode())
                call("POST", f"{base}/imports/{created['job']['id']}/start", token, {})
        elif action == "export":
            call("POST", f"{base}/exports", token, {"scope": "all", "format": "csv"})


def main():
    admin = gateway.login(os.environ["ROSTER_BOOTSTRAP_EMAIL"], os.environ["ROSTER_BOOTSTRAP_PASSWORD"])
    tenants = [new_tenant(admin, n) for n in range(max(1, CLIENTS // 2))]
    threads = [
        threading.Thread(target=client, args=(n, tenants[n % len(tenants)]), daemon=True)
        for n in range(CLIENTS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summary = dict(stats)
    summary["seconds"] = round(time.monotonic() - started, 1)
    summary["statuses"] = {str(k): v for k, v in sorted(statuses.items())}
    summary["problems"] = dict(sorted(problems.items()))
    summary["tenants"] = [t["id"] for t in tenants]
    for failure in failures[:20]:
        print("5xx:", failure)
    print(json.dumps(summary))


if __name__ == "__main__":
    api.run(main)
