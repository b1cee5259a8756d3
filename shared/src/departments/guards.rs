//! What the department use cases share: the guard keeping sibling names unique and the
//! refusals they have in common.

use crate::error::ApiError;
use crate::model::department::MAX_DEPTH;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The guard that keeps sibling names unique (case-insensitively).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct NameGuard {
    pub department_id: Uuid,
}

pub(super) fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "a department named \"{name}\" already exists under this parent"
    ))
}

pub(super) fn changed_concurrently() -> ApiError {
    ApiError::Conflict("the department changed at the same time; read it again and retry".into())
}

pub(super) fn too_deep() -> ApiError {
    ApiError::invalid(
        "parent_id",
        format!("departments nest at most {MAX_DEPTH} levels deep"),
    )
}
