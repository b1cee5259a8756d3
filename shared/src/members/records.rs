//! Members and departments from the items an operation read, refused the way every member
//! operation refuses them.

use super::counts::Placement;
use crate::error::{ApiError, ApiResult};
use crate::model::department::Department;
use crate::model::keys::GSI2;
use crate::model::member::Member;
use crate::store::{Item, from_item};

/// The department named by a request's `field`, which must be one of the tenant's.
pub(super) fn department_of(department: Option<Department>, field: &str) -> ApiResult<Department> {
    department.ok_or_else(|| ApiError::invalid(field, "is not a department of this tenant"))
}

/// A member not in the recycle bin.
pub(super) fn member_of(item: Option<Item>) -> ApiResult<Member> {
    placed_member(item).map(|(member, _)| member)
}

/// A member not in the recycle bin, and its placement read from its tree key (so the department
/// itself need not be read).
pub(super) fn placed_member(item: Option<Item>) -> ApiResult<(Member, Placement)> {
    let item = item.ok_or(ApiError::NotFound)?;
    let tree = item.get(GSI2.sk).and_then(|v| v.as_s().ok()).cloned();
    let member: Member = from_item(item)?;
    if !member.status.in_directory() {
        return Err(ApiError::NotFound);
    }
    let suffix = format!("/#{}", member.id);
    let id_path = tree
        .as_deref()
        .and_then(|t| t.strip_suffix(&suffix))
        .ok_or_else(|| ApiError::internal("member without a tree key"))?
        .to_string();
    let placement = Placement {
        id: member.department_id,
        id_path,
    };
    Ok((member, placement))
}
