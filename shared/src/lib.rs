//! Roster's common crate: every rule lives here once. Handlers in `functions/` extract the request,
//! call a function of a domain module here, and map the result.

pub mod api_clients;
pub mod app;
pub mod audit;
pub mod auth;
pub mod client_address;
pub mod config;
pub mod consistency;
pub mod crypto;
pub mod departments;
pub mod error;
pub mod events;
pub mod https;
pub mod idempotency;
pub mod invitations;
pub mod jobs;
pub mod joining;
pub mod licences;
pub mod limits;
pub mod logins;
pub mod mail;
pub mod members;
pub mod model;
pub mod outbox;
pub mod outbox_worker;
pub mod queue;
pub mod scim;
pub mod sealing;
pub mod sessions;
pub mod setup;
pub mod signing_keys;
pub mod sms;
pub mod store;
pub mod tenants;
pub mod tokens;
pub mod users;
pub mod validate;
pub mod webhooks;
pub mod worker_events;

pub use app::App;
pub use error::{ApiError, ApiResult};

/// Logs as JSON lines (CloudWatch) without timestamps Lambda adds itself, at the level RUST_LOG
/// names (error, warn, info, debug, trace; info by default).
pub fn init_tracing() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing::subscriber::set_global_default(json_logs(level, std::io::stdout));
}

/// The log format: one JSON object per line, the event's fields under `fields`, the span of the
/// Lambda invocation (its `requestId`) under `span`.
pub fn json_logs<W>(level: tracing::Level, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .without_time()
        .with_target(false)
        .with_writer(writer)
        .finish()
}
