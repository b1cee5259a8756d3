//! What a reader sees of a member (SPEC §8.2). With `members.read` (owners, admins given it, API
//! clients given it, operators) the admin view; a member without it reads directory entries —
//! names and places, and email and phone only where the contact visibility in force for the
//! member's department allows; anyone else reads nothing.

use super::view::MemberView;
use crate::app::App;
use crate::auth::{Access, CallerKind};
use crate::error::{ApiError, ApiResult};
use crate::model::department::Department;
use crate::model::member::Member;
use crate::model::roles::{Permission, Role};
use crate::model::tenant::{ContactVisibility, Tenant};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// How the caller reads members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// Holds `members.read`: the admin view.
    Admin,
    /// A member of the tenant without `members.read`: directory entries.
    Colleague {
        department_id: Uuid,
        /// Admins (without `members.read`) are no plain members: contacts are never hidden
        /// from them.
        is_admin: bool,
    },
}

impl Reader {
    pub fn of(access: &Access) -> ApiResult<Self> {
        if access.allows(Permission::MembersRead) {
            return Ok(Self::Admin);
        }
        match &access.caller.kind {
            CallerKind::Member(m) if m.tenant_id == access.tenant_id => Ok(Self::Colleague {
                department_id: m.department_id,
                is_admin: m.role != Role::Member,
            }),
            _ => Err(needs_members_read()),
        }
    }

    pub fn is_admin(self) -> bool {
        self == Self::Admin
    }
}

pub(crate) fn needs_members_read() -> ApiError {
    ApiError::Forbidden("the admin view of members needs members.read")
}

/// The contact visibility in force for each department: the tenant's, unless the department
/// overrides it.
#[derive(Debug, Clone, Default)]
pub struct ContactRules {
    tenant: ContactVisibility,
    overrides: HashMap<Uuid, ContactVisibility>,
}

impl ContactRules {
    /// For admins nothing is read: they see every contact.
    pub fn for_admin() -> Self {
        Self::default()
    }

    /// The tenant's rule and every department's override (one query of the tree), for a reader
    /// of many members.
    pub async fn load(app: &App, reader: Reader, tenant: &Tenant) -> ApiResult<Self> {
        let departments = match reader {
            Reader::Admin => Vec::new(),
            Reader::Colleague { .. } => crate::departments::all(app, tenant.id).await?,
        };
        Ok(Self::of(tenant, &departments))
    }

    pub fn of(tenant: &Tenant, departments: &[Department]) -> Self {
        Self {
            tenant: tenant.settings.contact_visibility,
            overrides: departments
                .iter()
                .filter_map(|d| d.settings.contact_visibility.map(|v| (d.id, v)))
                .collect(),
        }
    }

    fn in_force(&self, department_id: Uuid) -> ContactVisibility {
        self.overrides
            .get(&department_id)
            .copied()
            .unwrap_or(self.tenant)
    }

    pub fn shows_contacts(&self, reader: Reader, member: &Member) -> bool {
        match reader {
            Reader::Admin | Reader::Colleague { is_admin: true, .. } => true,
            Reader::Colleague { department_id, .. } => match self.in_force(member.department_id) {
                ContactVisibility::Everyone => true,
                ContactVisibility::Department => department_id == member.department_id,
                ContactVisibility::Admins => false,
            },
        }
    }
}

/// A member as the directory shows it to a colleague: never role, permissions, status, licence,
/// source, sign-ins or account ids.
#[derive(Debug, Clone, Serialize)]
pub struct DirectoryEntry {
    pub id: Uuid,
    pub name: String,
    pub department_id: Uuid,
    pub position: Option<String>,
    pub work_number: Option<String>,
    pub location: Option<String>,
    pub directory_number: u32,
    /// Null where the contact visibility hides it from the reader.
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// One member in a list or a detail answer, as the reader may see it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Listing {
    Member(Box<MemberView>),
    Entry(DirectoryEntry),
}

impl Listing {
    pub fn of(reader: Reader, rules: &ContactRules, member: &Member) -> Self {
        if reader.is_admin() {
            return Self::Member(Box::new(MemberView::from(member)));
        }
        let contacts = rules.shows_contacts(reader, member);
        Self::Entry(DirectoryEntry {
            id: member.id,
            name: member.name.clone(),
            department_id: member.department_id,
            position: member.position.clone(),
            work_number: member.work_number.clone(),
            location: member.location.clone(),
            directory_number: member.directory_number,
            email: contacts.then(|| member.email.clone()),
            phone: if contacts { member.phone.clone() } else { None },
        })
    }

    /// The admin view's version, for the ETag (entries carry none).
    pub fn version(&self) -> Option<u64> {
        match self {
            Self::Member(view) => Some(view.version),
            Self::Entry(_) => None,
        }
    }
}
