"""Runs every scim2-tester check (pinned in scripts/requirements-dev.txt) against one tenant's
SCIM endpoint of a running local gateway, and prints one line per check and a summary.

usage: scim_conformance.py GATEWAY_URL EMULATOR_URL ADMIN_EMAIL ADMIN_PASSWORD
  (makes a tenant with API access, its owner and a SCIM token through the gateway first)
environment: SCIM_TESTER_VERBOSE=1 prints what a failed check saw.
Exits 1 if any check fails, or none passed.
"""

import os
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from roster_py import api, tenant

FAILED = {Status.ERROR, Status.CRITICAL}


def one_line(text):
    return " ".join(str(text).split()) if text is not None else ""


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    gateway = argv[1]
    client, owned = tenant.from_command_line(argv[1:5])
    tenant_id = owned.tenant["id"]
    token = client.api("POST", f"/v1/tenants/{tenant_id}/scim-tokens", owned.token,
                       {"label": "scim2-tester"}, expect=(201,))["token"]
    # A trailing slash keeps the base's path when the client joins relative paths onto it.
    http = Client(
        base_url=f"{gateway}/scim/v2/{tenant_id}/",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/scim+json",
            "Content-Type": "application/scim+json",
        },
        timeout=30.0,
    )
    try:
        # An empty client: the tester reads ServiceProviderConfig, ResourceTypes and Schemas and
        # checks what they claim.
        results = check_server(SyncSCIMClient(http), raise_exceptions=False)
    finally:
        http.close()
    verbose = bool(os.environ.get("SCIM_TESTER_VERBOSE"))
    passed = failed = skipped = 0
    for r in results:
        if r.status in FAILED:
            failed += 1
        elif r.status == Status.SKIPPED:
            skipped += 1
        else:
            passed += 1
        title = f"{r.resource_type}:{r.title}" if r.resource_type else r.title
        print(f"{r.status.name:<8} {title}: {one_line(r.reason)}")
        if verbose and r.status in FAILED and r.data is not None:
            print(f"         saw: {one_line(r.data)[:2000]}")
    print(f"scim2-tester: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(api.run(lambda: main(sys.argv)))
