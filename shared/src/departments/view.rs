//! A department as clients see it.

use crate::model::department::{Department, DepartmentSettings};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub path: String,
    pub depth: u32,
    pub member_count: u32,
    pub child_count: u32,
    pub settings: DepartmentSettings,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&Department> for DepartmentView {
    fn from(d: &Department) -> Self {
        Self {
            id: d.id,
            tenant_id: d.tenant_id,
            name: d.name.clone(),
            parent_id: d.parent_id,
            path: d.path.clone(),
            depth: d.depth,
            member_count: d.member_count,
            child_count: d.child_count,
            settings: d.settings.clone(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}
