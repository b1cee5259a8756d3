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
mod guards;
mod lock;
pub mod moves;
mod plan;
mod read;
mod reshape;
mod settings;
mod tree;
mod view;

pub use create::{CreateDepartment, create};
pub use delete::delete;
pub use edit::{DepartmentPatch, Updated, update};
pub(crate) use read::all;
pub use read::{get, list, relative_path};
pub use settings::DepartmentSettingsPatch;
pub use view::DepartmentView;

pub use crate::model::department::{Department, DepartmentSettings, MAX_DEPTH};
pub use crate::model::tenant::ContactVisibility;
