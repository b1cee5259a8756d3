//! What a licence change reads first: the caller, the tenant and the members it names.

use crate::app::App;
use crate::auth::{Access, Need, Requester, authorize_with_tenant};
use crate::error::{ApiResult, LicenceConflict};
use crate::model::keys::Key;
use crate::model::member::{Member, MemberStatus};
use crate::model::roles::Permission;
use crate::model::tenant::Tenant;
use crate::store::{Batch, Slot};
use uuid::Uuid;

/// The members named, read with the caller and the tenant (batches of 100 keys); each is a
/// member, or the reason it cannot be one here.
pub(super) async fn load(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> ApiResult<(Access, Tenant, Vec<Result<Member, LicenceConflict>>)> {
    let mut batch = Batch::new();
    let slots: Vec<Slot<Member>> = ids
        .iter()
        .map(|m| batch.read(Key::member(tenant_id, *m)))
        .collect();
    let (access, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::LicencesWrite),
        batch,
    )
    .await?;
    let mut members = Vec::with_capacity(ids.len());
    for (id, slot) in ids.iter().zip(slots) {
        let conflict = |reason| {
            Err(LicenceConflict {
                member_id: *id,
                reason,
            })
        };
        members.push(match read.take(slot)? {
            None => conflict("unknown"),
            Some(member) => match member.status {
                MemberStatus::Deleted => conflict("deleted"),
                MemberStatus::Pending | MemberStatus::Rejected => conflict("not_a_member"),
                _ => Ok(member),
            },
        });
    }
    Ok((access, tenant, members))
}
