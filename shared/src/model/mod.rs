//! The bottom layer: Roster's records as stored, their enums, roles and permissions, and the keys
//! and index attributes each entity is stored under. It reads and writes nothing; the store and the
//! domain modules build on it, and it looks at nothing above it.

pub mod api_client;
pub mod department;
pub mod item;
pub mod job;
pub mod keys;
pub mod licence;
pub mod member;
pub mod page;
pub mod roles;
pub mod scim_token;
pub mod session;
pub mod tenant;
pub mod time;
pub mod user;

pub use api_client::ApiClient;
pub use department::{Department, DepartmentSettings};
pub use licence::{Licence, Renewal};
pub use member::{Member, MemberSource, MemberStatus};
pub use page::{List, PageParams};
pub use roles::{Permission, Permissions, Role};
pub use tenant::Tenant;
pub use user::User;
