//! Tenants: created by platform admins (or by a reseller's admins for their customers) with a root
//! department and an owner who receives a set-password mail.
//!
//! By use case: `create` (who may create which tenant, and its first records), `edit` (name,
//! plan, quotas, feature flags and settings), `settings` (the rules of a settings patch), `read`
//! (one tenant, the list), `view` (a tenant as clients see it), `mail` (the owner's mail),
//! `deletion` (delete with a grace period, restore) and `purge` (the scheduled removal).

mod create;
pub mod deletion;
mod edit;
mod mail;
pub mod purge;
mod read;
mod settings;
pub(crate) mod view;

pub use create::{CreateTenant, create};
pub use deletion::{delete, restore};
pub use edit::{TenantPatch, update};
pub use read::{get, list};
pub use settings::TenantSettingsPatch;
pub use view::{Seats, TenantView};

pub use crate::model::tenant::{
    Branding, ContactVisibility, FeatureFlags, JoinField, JoinRules, MAX_MEMBER_QUOTA, MAX_SEATS,
    NewMemberPassword, Plan, Tenant, TenantKind, TenantSettings, TenantStatus,
};
