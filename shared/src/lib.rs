//! Roster's common crate: every rule lives here once. Handlers in `functions/` extract the request,
//! call a function of a domain module here, and map the result.

pub mod api_clients;
pub mod app;
pub mod audit;
pub mod auth;
pub mod crypto;
pub mod departments;
pub mod error;
pub mod http;
pub mod keys;
pub mod logins;
pub mod mail;
pub mod members;
pub mod setup;
pub mod store;
pub mod tenants;
pub mod tokens;
pub mod users;
pub mod validate;

pub use app::App;
pub use error::{ApiError, ApiResult};

/// Logs as JSON lines (CloudWatch) without timestamps Lambda adds itself.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .without_time()
        .with_target(false)
        .try_init();
}
