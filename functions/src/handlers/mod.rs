//! One function per API operation: extract from the request, call `shared`, map the result.

pub mod api_clients;
pub mod audit;
pub mod auth;
pub mod departments;
pub mod events;
pub mod invitations;
pub mod jobs;
pub mod joining;
pub mod licences;
pub mod logins;
pub mod me;
pub mod members;
pub mod scim;
pub mod sessions;
pub mod tenants;
pub mod webhooks;

use lambda_http::{Body, Response};
use roster_shared::ApiResult;

pub type Answer = ApiResult<Response<Body>>;
