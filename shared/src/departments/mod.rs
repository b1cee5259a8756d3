//! The department tree of a tenant. Each department stores its parent id, and its name path and
//! id path from the root; members index their department's id path, so a subtree's members are
//! one query (see `keys`). A move or a rename rewrites the paths of the subtree (and a move the
//! members' tree keys) in the same transaction when they fit in one; otherwise the department
//! changes at once and a job of the task centre rewrites the rest (`moves`), holding the subtree
//! against other moves, renames, deletes and new children until it is done. Ancestry is checked
//! along stored parent ids (`tree`).
//!
//! By use case: `read` (the tree, one department), `create`, `edit` (rename, move, settings;
//! decided in `plan`, the subtree written by `reshape`), `delete`; `settings` holds the rules of
//! a settings patch, `counts` the guarded change of a department's counters.

mod counts;
mod create;
mod delete;
mod edit;
pub mod moves;
mod plan;
mod read;
mod reshape;
mod settings;
mod tree;
mod view;

pub(crate) use counts::{Count, StillAt, add_to_count};
pub use create::{CreateDepartment, create};
pub use delete::delete;
pub use edit::{DepartmentPatch, Updated, update};
pub(crate) use read::all;
pub use read::{get, list, relative_path};
pub(crate) use reshape::rewrite_descendant;
pub use settings::DepartmentSettingsPatch;
pub use view::DepartmentView;

pub use crate::model::department::{Department, DepartmentSettings, MAX_DEPTH};
pub use crate::model::tenant::ContactVisibility;

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The guard that keeps sibling names unique (case-insensitively).
#[derive(Debug, Serialize, Deserialize)]
struct NameGuard {
    department_id: Uuid,
}

fn name_taken(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "a department named \"{name}\" already exists under this parent"
    ))
}

fn changed_concurrently() -> ApiError {
    ApiError::Conflict("the department changed at the same time; read it again and retry".into())
}

fn too_deep() -> ApiError {
    ApiError::invalid(
        "parent_id",
        format!("departments nest at most {MAX_DEPTH} levels deep"),
    )
}
