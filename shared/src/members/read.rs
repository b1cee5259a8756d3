//! Reading one member as the caller may see it.

use super::directory::{ContactRules, Listing, Reader};
use super::records::member_of;
use crate::app::App;
use crate::auth::{Need, Requester, authorize_with_tenant};
use crate::error::ApiResult;
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::store::{Batch, from_item};
use uuid::Uuid;

/// One member as the caller may see it (the admin view carries its ETag version). Members in the
/// recycle bin are not found here.
pub async fn get(
    app: &App,
    requester: &Requester,
    tenant_id: Uuid,
    member_id: Uuid,
) -> ApiResult<Listing> {
    let mut batch = Batch::new();
    let member = batch.read_item(Key::member(tenant_id, member_id));
    let (access, tenant, mut read) =
        authorize_with_tenant(app, requester, tenant_id, Need::Member, batch).await?;
    let reader = Reader::of(&access)?;
    let member = member_of(read.take_item(member))?;
    let rules = match reader {
        Reader::Admin => ContactRules::for_admin(),
        // A colleague's entry follows the rule of the member's department.
        Reader::Colleague { .. } => {
            let department: Option<Department> = app
                .store
                .get(&Key::department(tenant_id, member.department_id))
                .await?
                .map(from_item)
                .transpose()?;
            ContactRules::of(&tenant, department.as_slice())
        }
    };
    Ok(Listing::of(reader, &rules, &member))
}
