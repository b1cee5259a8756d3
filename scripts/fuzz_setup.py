"""Sets up the tenant that scripts/fuzz.sh fuzzes, through the public API of a running gateway.

Signs in the bootstrap platform admin, creates a tenant with an owner, follows the owner's mailed
link (read from the emulator's `/_roster/sent-mail`) to set a password, signs the owner in to the
tenant and prints shell assignments for fuzz.sh: FUZZ_TENANT_ID, FUZZ_OWNER_TOKEN.

usage: fuzz_setup.py GATEWAY_URL EMULATOR_URL ADMIN_EMAIL ADMIN_PASSWORD
"""

import json
import re
import secrets
import shlex
import sys
import urllib.error
import urllib.request


def call(method, url, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as error:
        raw = error.read()
        raise SystemExit(f"{method} {url} answered {error.code}: {raw.decode(errors='replace')}")


def tenant_with_owner(gateway, emulator, admin_email, admin_password):
    """A new tenant whose owner has set a password: (tenant_id, owner_email, password, token)."""
    _, login = call("POST", f"{gateway}/v1/auth/login", {"email": admin_email, "password": admin_password})
    admin = login["access_token"]

    owner_email = f"owner-{secrets.token_hex(4)}@fuzz.test"
    _, tenant = call(
        "POST",
        f"{gateway}/v1/tenants",
        {
            "name": "Fuzz Corp",
            "kind": "customer",
            "plan": "paid",
            "member_quota": 1000,
            "seats_total": 50,
            "owner_email": owner_email,
            "owner_name": "Olive Owner",
            # The fuzzer reaches the API-client routes too.
            "feature_flags": {"api_access": True},
        },
        admin,
    )
    tenant_id = tenant["id"]

    with urllib.request.urlopen(f"{emulator}/_roster/sent-mail", timeout=30) as response:
        mails = json.loads(response.read())
    bodies = [m.get("body", "") for m in mails if owner_email in (m.get("to") or [])]
    if not bodies:
        raise SystemExit(f"no mail to {owner_email}")
    link = re.search(r"token=([A-Za-z0-9_-]+)", bodies[-1])
    if not link:
        raise SystemExit(f"no link in the mail to {owner_email}")
    password = secrets.token_urlsafe(18)
    call("POST", f"{gateway}/v1/auth/password-reset", {"token": link.group(1), "new_password": password})
    _, login = call(
        "POST",
        f"{gateway}/v1/auth/login",
        {"email": owner_email, "password": password, "tenant_id": tenant_id},
    )
    return tenant_id, owner_email, password, login["access_token"]


def main():
    tenant_id, _, _, token = tenant_with_owner(*sys.argv[1:5])
    print(f"FUZZ_TENANT_ID={shlex.quote(tenant_id)}")
    print(f"FUZZ_OWNER_TOKEN={shlex.quote(token)}")


if __name__ == "__main__":
    main()
