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
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

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


def call(method, path, token=None, body=None, base=GATEWAY, content_type="application/json", raw=None):
    """One logical request: retried on 503 (same Idempotency-Key) and on a refused connection."""
    key = str(uuid.uuid4()) if method == "POST" else None
    for attempt in range(60):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(base + path if base else path, data=data, method=method)
        if data is not None:
            request.add_header("content-type", content_type)
        if token:
            request.add_header("authorization", f"Bearer {token}")
        if key and base == GATEWAY:
            request.add_header("idempotency-key", key)
        with lock:
            stats["requests"] += 1
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            with lock:
                stats["connection_errors"] += 1
            time.sleep(0.5)
            continue
        with lock:
            statuses[status] += 1
        if status == 503:
            with lock:
                stats["unavailable_503"] += 1
            time.sleep(min(float(dict_header(text, "retry_after") or 1), 2))
            continue
        if status >= 500:
            with lock:
                stats["server_errors_5xx"] += 1
                failures.append(f"{method} {path} -> {status}: {text[:300]!r}")
        try:
            answer = json.loads(text) if text else None
        except ValueError:
            answer = None
        if 400 <= status < 500 and isinstance(answer, dict):
            with lock:
                problems[f"{status} {answer.get('code')}"] += 1
        return status, answer
    return 599, None


def dict_header(text, name):
    try:
        return json.loads(text).get(name)
    except (ValueError, AttributeError):
        return None


def mail_token(to, page=None):
    """The token of the newest link to `page` (any page when None) mailed to `to`."""
    status, mails = call("GET", "/_roster/sent-mail", base=EMULATOR)
    prefix = f"/{page}?token=" if page else "token="
    for mail in reversed(mails or []):
        if to in mail.get("to", []) and prefix in mail.get("body", ""):
            body = mail["body"]
            start = body.index(prefix) + len(prefix)
            return re.match(r"[A-Za-z0-9_-]+", body[start:]).group(0)
    return None


def login(email, password, tenant_id=None):
    body = {"email": email, "password": password}
    if tenant_id:
        body["tenant_id"] = tenant_id
    status, answer = call("POST", "/v1/auth/login", body=body)
    if status != 200:
        raise RuntimeError(f"sign-in of {email} answered {status}: {answer}")
    return answer["access_token"]


def new_tenant(admin, n):
    owner = f"owner-{uuid.uuid4().hex[:10]}@soak{n}.test"
    status, tenant = call("POST", "/v1/tenants", admin, {
        "name": f"Soak {n}", "kind": "customer", "plan": "paid", "member_quota": 400,
        "seats_total": 40, "owner_email": owner, "owner_name": "Soak Owner",
    })
    if status != 201:
        raise RuntimeError(f"tenant create answered {status}: {tenant}")
    token = None
    for _ in range(20):
        token = mail_token(owner)
        if token:
            break
        time.sleep(0.5)
    password = "soak-owner-password-1"
    call("POST", "/v1/auth/password-reset", body={"token": token, "new_password": password})
    return {
        "id": tenant["id"], "root": tenant["root_department_id"],
        "token": login(owner, password, tenant["id"]), "members": [], "departments": [tenant["root_department_id"]],
    }


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
            link = mail_token(email, "invitations/accept") if status == 201 else None
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
    admin = login(os.environ["ROSTER_BOOTSTRAP_EMAIL"], os.environ["ROSTER_BOOTSTRAP_PASSWORD"])
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
    main()
