"""Sets up the tenant that scripts/fuzz.sh fuzzes, through the public API of a running gateway.

Signs in the bootstrap platform admin, creates a tenant with an owner, follows the owner's mailed
link (read from the emulator's `/_roster/sent-mail`) to set a password, signs the owner in to the
tenant and prints shell assignments for fuzz.sh: FUZZ_TENANT_ID, FUZZ_OWNER_TOKEN.

usage: fuzz_setup.py GATEWAY_URL EMULATOR_URL ADMIN_EMAIL ADMIN_PASSWORD
"""

import shlex
import sys

from roster_py import api, tenant


def main():
    _, owned = tenant.from_command_line(sys.argv[1:5])
    print(f"FUZZ_TENANT_ID={shlex.quote(owned.tenant['id'])}")
    print(f"FUZZ_OWNER_TOKEN={shlex.quote(owned.token)}")


if __name__ == "__main__":
    api.run(main)
