//! Roster's Lambda handlers. Each binary in `src/bin/` runs one handler under the Lambda runtime;
//! the local gateway serves them all from the one registry in [`registry`].

pub mod console_files;
pub mod gateway;
pub mod handlers;
pub mod http;
pub mod idempotent;
pub mod jobs;
pub mod lambda;
pub mod local_stack;
pub mod registry;

pub use roster_shared as shared;
