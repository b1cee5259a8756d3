//! The admin view of a member.

use crate::model::licence::LicenceView;
use crate::model::member::{JoinVia, Member, MemberSource, MemberStatus};
use crate::model::roles::{Permissions, Role};

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// A member as clients see it.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub phone: Option<String>,
    pub department_id: Uuid,
    pub position: Option<String>,
    pub work_number: Option<String>,
    pub location: Option<String>,
    pub directory_number: u32,
    pub role: Role,
    pub permissions: Permissions,
    pub status: MemberStatus,
    pub source: MemberSource,
    pub api_client_id: Option<Uuid>,
    pub licence: Option<LicenceView>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub purge_at: Option<OffsetDateTime>,
    #[serde(skip)]
    pub version: u64,
}

impl From<&Member> for MemberView {
    fn from(m: &Member) -> Self {
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            user_id: m.user_id,
            email: m.email.clone(),
            email_verified: m.email_verified,
            name: m.name.clone(),
            phone: m.phone.clone(),
            department_id: m.department_id,
            position: m.position.clone(),
            work_number: m.work_number.clone(),
            location: m.location.clone(),
            directory_number: m.directory_number,
            role: m.role,
            permissions: m.effective_permissions(),
            status: m.status,
            source: m.source,
            api_client_id: m.api_client_id,
            licence: m.licence.as_ref().map(LicenceView::from),
            created_at: m.created_at,
            updated_at: m.updated_at,
            last_login_at: m.last_login_at,
            deleted_at: m.deleted_at,
            purge_at: m.purge_at,
            version: m.version,
        }
    }
}

/// A join request as admins see it: the member it will become, and how it came.
#[derive(Debug, Serialize)]
pub struct JoinRequestView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub department_id: Uuid,
    pub position: Option<String>,
    pub work_number: Option<String>,
    pub location: Option<String>,
    pub role: Role,
    /// pending, rejected — or active once approved.
    pub status: MemberStatus,
    pub source: MemberSource,
    pub via: Option<JoinVia>,
    pub invitation_id: Option<Uuid>,
    pub join_link_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub requested_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    pub decided_by: Option<Uuid>,
    pub reason: Option<String>,
}

impl From<&Member> for JoinRequestView {
    fn from(m: &Member) -> Self {
        let info = m.join_request.as_ref();
        Self {
            id: m.id,
            tenant_id: m.tenant_id,
            user_id: m.user_id,
            email: m.email.clone(),
            name: m.name.clone(),
            phone: m.phone.clone(),
            department_id: m.department_id,
            position: m.position.clone(),
            work_number: m.work_number.clone(),
            location: m.location.clone(),
            role: m.role,
            status: m.status,
            source: m.source,
            via: info.map(|i| i.via),
            invitation_id: info.and_then(|i| i.invitation_id),
            join_link_id: info.and_then(|i| i.join_link_id),
            requested_at: info.map(|i| i.requested_at),
            decided_at: info.and_then(|i| i.decided_at),
            decided_by: info.and_then(|i| i.decided_by),
            reason: info.and_then(|i| i.reason.clone()),
        }
    }
}
