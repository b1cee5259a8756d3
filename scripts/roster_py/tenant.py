"""A tenant whose owner set a password and signed in, made through a local gateway's API."""

import secrets
from typing import NamedTuple

from . import mail
from .api import Client


class Owned(NamedTuple):
    tenant: dict  # the create answer (id, root_department_id, join_number...)
    email: str  # the owner's
    password: str
    token: str  # the owner's, signed in to the tenant


def set_password(client, email, password):
    """Follows the set-password link mailed to `email` (an owner or member the API created)."""
    link = mail.mailed_token(client, email, "set-password")
    client.api("POST", "/v1/auth/password-reset", body={"token": link, "new_password": password},
               expect=(204,))


def tenant_with_owner(client, admin, owner_email, password, **fields):
    """A tenant the platform admin (token `admin`) creates: a paid customer, with `fields` on top,
    whose owner sets `password` and signs in to it."""
    body = {"kind": "customer", "plan": "paid", "owner_name": "Olive Owner", **fields,
            "owner_email": owner_email}
    tenant = client.api("POST", "/v1/tenants", admin, body, expect=(201,))
    set_password(client, owner_email, password)
    return Owned(tenant, owner_email, password, client.login(owner_email, password, tenant["id"]))


def from_command_line(argv):
    """(client, Owned) for a script run as `SCRIPT GATEWAY_URL EMULATOR_URL ADMIN_EMAIL
    ADMIN_PASSWORD` (fuzz_setup.py, scim_conformance.py, bench_init.py setup): a fresh tenant with
    API access, which the fuzzer's API-client routes need."""
    gateway, emulator, admin_email, admin_password = argv
    client = Client(gateway, emulator)
    admin = client.login(admin_email, admin_password)
    owned = tenant_with_owner(client, admin, f"owner-{secrets.token_hex(4)}@fuzz.test",
                              secrets.token_urlsafe(18), name="Fuzz Corp", member_quota=1000,
                              seats_total=50, feature_flags={"api_access": True})
    return client, owned
