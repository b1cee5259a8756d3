"""An admin's day through the Python client that openapi-python-client generates from openapi.yaml
(scripts/generated-client.sh makes it): every answer must parse into the model the document names.

Run as `client_scenario.py GATEWAY_URL EMULATOR_URL ADMIN_EMAIL ADMIN_PASSWORD` with the generated
package (`roster_client`) importable. The setup (a tenant whose owner set a password from the mailed
link) uses scripts/roster_py; every step after it goes through the generated client only."""

import secrets
import sys
import time
from datetime import datetime, timedelta, timezone
from http import HTTPStatus

from roster_client import AuthenticatedClient, Client
from roster_client.api.auth import login
from roster_client.api.departments import create_department, list_departments
from roster_client.api.exports import create_export
from roster_client.api.jobs import get_job
from roster_client.api.licences import assign_licences, get_licences
from roster_client.api.me import get_me
from roster_client.api.members import (bulk_status_members, create_member, delete_member,
                                       get_member, list_members, update_member)
from roster_client.api.recycle_bin import list_recycle_bin, restore_member
from roster_client.api.tenants import get_tenant
from roster_client.models import (AssignLicences, BulkResult, BulkStatusRequest,
                                  CreateDepartmentRequest, CreateExportRequest, CreateMemberRequest,
                                  Department, DepartmentList, Job, LicenceResult, LicenceSummary,
                                  LoginRequest, LoginResponse, Me, Member, MemberList, MemberPatch,
                                  Problem, RestoreMemberRequest, Tenant)

from roster_py.api import Failure, run
from roster_py.tenant import from_command_line


def expect(answer, status, model):
    """The parsed body of `answer`, which must have `status` and parse into `model`."""
    if answer.status_code != status or not isinstance(answer.parsed, model):
        raise Failure(f"expected {status} {model.__name__}, got {answer.status_code} "
                      f"{type(answer.parsed).__name__}: {answer.content[:300]!r}")
    return answer.parsed


def admin_day(base, owned):
    """Signs in through the generated client, then runs the seed stories an admin does daily."""
    anonymous = Client(base_url=base, raise_on_unexpected_status=True)
    body = LoginRequest.from_dict({"email": owned.email, "password": owned.password,
                                   "tenant_id": owned.tenant["id"]})
    token = expect(login.sync_detailed(client=anonymous, body=body), HTTPStatus.OK,
                   LoginResponse).access_token
    client = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)
    tenant_id = owned.tenant["id"]

    me = expect(get_me.sync_detailed(client=client), HTTPStatus.OK, Me)
    tenant = expect(get_tenant.sync_detailed(tenant_id, client=client), HTTPStatus.OK,
                    Tenant)
    root = tenant.root_department_id
    sales = expect(create_department.sync_detailed(
        tenant_id, client=client,
        body=CreateDepartmentRequest.from_dict({"name": "Sales", "parent_id": str(root)})),
        HTTPStatus.CREATED, Department)
    departments = expect(list_departments.sync_detailed(tenant_id, client=client), HTTPStatus.OK,
                         DepartmentList)
    if sales.id not in {department.id for department in departments.items}:
        raise Failure("the new department is not listed")

    people = []
    for name in ("Ada Lovelace", "Grace Hopper", "Alan Turing"):
        email = f"{name.split()[0].lower()}-{secrets.token_hex(3)}@client.test"
        people.append(expect(create_member.sync_detailed(
            tenant_id, client=client, idempotency_key=secrets.token_hex(8),
            body=CreateMemberRequest.from_dict({"email": email, "name": name,
                                                "department_id": str(sales.id),
                                                "position": "Engineer"})),
            HTTPStatus.CREATED, Member))
    found = expect(list_members.sync_detailed(tenant_id, client=client, q="lovel"), HTTPStatus.OK,
                   MemberList)
    if [member.id for member in found.items] != [people[0].id]:
        raise Failure(f"searching 'lovel' found {[m.name for m in found.items]}")
    in_sales = expect(list_members.sync_detailed(tenant_id, client=client, department_id=sales.id,
                                                 limit=2), HTTPStatus.OK, MemberList)
    rest = expect(list_members.sync_detailed(tenant_id, client=client, department_id=sales.id,
                                             cursor=in_sales.next_cursor), HTTPStatus.OK,
                  MemberList)
    if len(in_sales.items) + len(rest.items) != 3:
        raise Failure("paging Sales by the cursor did not give its three members")

    edit_with_if_match(client, tenant_id, people[1])
    seats_and_status(client, tenant_id, people)
    recycle(client, tenant_id, people[2], root)
    export(client, tenant_id, sales.id)
    return me


def edit_with_if_match(client, tenant_id, member):
    """An edit carries the ETag it read; a second edit with the same (now stale) ETag gets 412."""
    read = get_member.sync_detailed(tenant_id, member.id, client=client)
    expect(read, HTTPStatus.OK, Member)
    etag = read.headers["etag"]
    patch = MemberPatch.from_dict({"location": "Berlin"})
    moved = expect(update_member.sync_detailed(tenant_id, member.id, client=client, body=patch,
                                               if_match=etag), HTTPStatus.OK, Member)
    if moved.location != "Berlin":
        raise Failure("the edit did not apply")
    expect(update_member.sync_detailed(tenant_id, member.id, client=client,
                                       body=MemberPatch.from_dict({"location": "Paris"}),
                                       if_match=etag), HTTPStatus.PRECONDITION_FAILED, Problem)


def seats_and_status(client, tenant_id, people):
    """Seats for two, then one of them disabled."""
    expires = (datetime.now(timezone.utc) + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    ids = [str(people[0].id), str(people[1].id)]
    assigned = expect(assign_licences.sync_detailed(
        tenant_id, client=client, body=AssignLicences.from_dict({"member_ids": ids,
                                                                 "expires_at": expires})),
        HTTPStatus.OK, LicenceResult)
    if assigned.seats.used != 2:
        raise Failure(f"two seats assigned, {assigned.seats.used} used")
    expect(get_licences.sync_detailed(tenant_id, client=client), HTTPStatus.OK,
           LicenceSummary)
    expect(bulk_status_members.sync_detailed(
        tenant_id, client=client,
        body=BulkStatusRequest.from_dict({"member_ids": ids[1:], "status": "disabled"})),
        HTTPStatus.OK, BulkResult)
    disabled = expect(get_member.sync_detailed(tenant_id, people[1].id, client=client),
                      HTTPStatus.OK, Member)
    if disabled.status.value != "disabled":
        raise Failure("the bulk disable did not apply")


def recycle(client, tenant_id, member, root):
    """Deleted, found in the recycle bin, restored into the root department."""
    deleted = delete_member.sync_detailed(tenant_id, member.id, client=client)
    if deleted.status_code != HTTPStatus.NO_CONTENT:
        raise Failure(f"the delete answered {deleted.status_code}")
    binned = expect(list_recycle_bin.sync_detailed(tenant_id, client=client), HTTPStatus.OK,
                    MemberList)
    if member.id not in {entry.id for entry in binned.items}:
        raise Failure("the deleted member is not in the recycle bin")
    restored = expect(restore_member.sync_detailed(
        tenant_id, member.id, client=client,
        body=RestoreMemberRequest.from_dict({"department_id": str(root)})), HTTPStatus.OK, Member)
    if restored.department_id != root:
        raise Failure("the restore did not land in the chosen department")


def export(client, tenant_id, department_id):
    """A CSV export of one department, followed until its download is ready."""
    job = expect(create_export.sync_detailed(
        tenant_id, client=client, idempotency_key=secrets.token_hex(8),
        body=CreateExportRequest.from_dict({"scope": "department", "format": "csv",
                                            "department_id": str(department_id)})),
        HTTPStatus.ACCEPTED, Job)
    for _ in range(300):
        job = expect(get_job.sync_detailed(tenant_id, job.id, client=client), HTTPStatus.OK,
                     Job)
        if job.status.value in ("completed", "failed"):
            break
        time.sleep(0.2)
    if job.status.value != "completed" or not job.download_url:
        raise Failure(f"the export ended {job.status.value} without a download")


def main():
    _, owned = from_command_line(sys.argv[1:])
    me = admin_day(sys.argv[1], owned)
    print(f"the generated client ran an admin's day as {me.user.email}")


if __name__ == "__main__":
    run(main)
