//! Members: a user's membership in one tenant — creation, the directory and search, edits, and the
//! recycle bin. Every change moves the counters it affects (tenant members for the quota, owners
//! for the last-owner rule, department members for safe deletes) in the same transaction.
//!
//! One file per use case, each reading what it needs, deciding in a pure function and writing
//! one transaction:
//! - `view`: the admin view of a member; `read`: reading one member (`get`);
//! - `policy`: who may grant what and manage whom;
//! - `create`: validating and writing a new member (also for imports);
//! - `edit`: one member's organisation fields, role, permissions and status;
//! - `recycle`: delete into the recycle bin, list it, restore from it;
//! - `search`: the directory and search;
//! - `mail`: the welcome mail and the password reset;
//! - `counts`: the tenant and department counters a member moves;
//! - `index`: the search terms and what follows a user's new name;
//! - `records`: members and departments from the items an operation read;
//! - `bulk`, `directory`, `purge`: bulk edits, what a reader sees, the recycle bin's purge job.

pub mod bulk;
pub(crate) mod counts;
mod create;
pub mod directory;
mod edit;
mod index;
mod mail;
mod policy;
mod provisioned;
pub mod purge;
mod read;
mod records;
mod recycle;
mod search;
pub mod view;

pub use create::{CreateMember, create};
pub use directory::{ContactRules, DirectoryEntry, Listing, Reader};
pub use edit::{MemberPatch, StatusInput, update};
pub use mail::send_password_reset;
pub use read::get;
pub use recycle::{RestoreInput, delete, recycle_bin, restore};
pub use search::{MemberSearch, MemberSort, SORTED_SCOPE_CAP, SORTED_SEARCH_CAP, search};
pub use view::MemberView;

pub use crate::model::member::{
    DEFAULT_DIRECTORY_NUMBER, JoinRequestInfo, JoinVia, Member, MemberSource, MemberStatus, Person,
    UserInTenant, fold, search_terms,
};

pub(crate) use counts::quota_exceeded;
pub(crate) use create::{NewMember, insert, provision};
pub(crate) use index::ScimGuard;
pub(crate) use policy::{beyond_reach, may_grant, may_manage, role_and_permissions};
pub(crate) use provisioned::{PersonalFields, plan_personal_change, write_personal_change};
