//! THE registry: every Lambda function of the stack, one `pub static` each — an API operation
//! (method, path, who may call it, whether it creates, its handler) or a job or worker (what
//! starts it, its entry). Each binary in `src/bin/` serves its own entry and so links only its
//! own handler; the local gateway routes by [`OPERATIONS`], the local stack runs [`JOBS`], and
//! tests/contract.rs checks template.yaml, openapi.yaml, `src/bin/`, `events/` and the README
//! against them. A new operation is one line here, one handler, one five-line binary and the
//! entries the contract test asks for.

use crate::handlers::{self, Answer};
use crate::http::Dialect;
use http::Method;
use lambda_http::Request;
use roster_shared::auth::Permission::{
    ApiClientsWrite, DepartmentsWrite, ExportsRun, ImportsRun, InvitationsWrite, MembersRead,
    MembersWrite, WebhooksWrite,
};
use roster_shared::idempotency::Gate;
use roster_shared::{ApiResult, App};
use std::future::Future;
use std::pin::Pin;

pub type Handler = fn(&'static App, Request) -> Pin<Box<dyn Future<Output = Answer> + Send>>;

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; a bearer token, if sent, must still be valid.
    Public,
    /// A valid signed token (a person's or an API client's).
    Token,
    /// One of the tenant's SCIM tokens (never a signed token).
    Scim,
}

/// An API operation: one route, one function.
pub struct Operation {
    /// The binary in `src/bin/` and the function in template.yaml.
    pub name: &'static str,
    pub method: Method,
    /// API Gateway's path template, e.g. `/v1/tenants/{tenant_id}`.
    pub path: &'static str,
    pub access: Access,
    /// A POST that creates: it honours `Idempotency-Key` (SPEC.md §8.6), and a retry gets the
    /// kept answer only past this gate, what the operation asks of its caller (SPEC.md §9.1).
    pub creates: Option<Gate>,
    pub handler: Handler,
}

impl Operation {
    /// SCIM's clients read SCIM errors; everyone else problem+json.
    pub fn dialect(&self) -> Dialect {
        match self.access {
            Access::Scim => Dialect::Scim,
            Access::Public | Access::Token => Dialect::Problem,
        }
    }

    /// API Gateway's route key: `POST /v1/auth/login`.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What starts a job or worker, as template.yaml declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An EventBridge schedule.
    Schedule,
    /// Records of the table's stream that pass this filter: template.yaml's `FilterCriteria`
    /// pattern, word for word, which the local stack applies as Lambda does.
    Stream(&'static str),
    /// The bucket's notifications of uploads whose keys have this prefix and suffix.
    Upload {
        prefix: &'static str,
        suffix: &'static str,
    },
    /// The dead-letter queue the other workers' failed events go to.
    DeadLetters,
    /// Secrets Manager rotating a secret (one rotation step per invocation).
    Rotation,
}

/// What a job's or worker's function runs for each event it is given (the event as Lambda hands
/// it over); its report is the invocation's result.
pub type Entry = fn(
    &'static App,
    serde_json::Value,
) -> Pin<Box<dyn Future<Output = ApiResult<serde_json::Value>> + Send>>;

/// A function started by the stack rather than by a route.
pub struct Job {
    /// The binary in `src/bin/` and the function in template.yaml.
    pub name: &'static str,
    pub triggers: &'static [Trigger],
    pub entry: Entry,
}

impl Job {
    pub fn has(&self, wanted: fn(&Trigger) -> bool) -> bool {
        self.triggers.iter().any(wanted)
    }
}

/// Functions that seal or open webhook signing secrets besides the creates (which seal kept
/// answers): they alone are given the sealing secret (tests/contract.rs).
pub static OPENS_WEBHOOK_SECRETS: &[&str] = &[
    "rotate-webhook-secret",
    "retry-webhook-delivery",
    "webhook-dispatch",
    "webhook-retry",
];

/// A report as the invocation's JSON result.
fn report<T: serde::Serialize>(value: ApiResult<T>) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value?).map_err(roster_shared::ApiError::internal)
}

/// An event a worker cannot read fails its invocation (the event source retries it, then gives
/// it to the dead-letter queue).
fn not_an_event(err: serde_json::Error) -> roster_shared::ApiError {
    roster_shared::ApiError::internal(format!("an event this worker does not take: {err}"))
}

macro_rules! operations {
    ($($static:ident = $access:ident $method:ident $path:literal => $name:literal, $handler:path $(, creates $gate:expr)?;)*) => {
        $(
            pub static $static: Operation = Operation {
                name: $name,
                method: Method::$method,
                path: $path,
                access: operations!(@access $access),
                creates: operations!(@creates $($gate)?),
                handler: |app, req| Box::pin($handler(app, req)),
            };
        )*
        /// Every API operation.
        pub static OPERATIONS: &[&Operation] = &[$(&$static),*];
    };
    (@access public) => { Access::Public };
    (@access token) => { Access::Token };
    (@access scim) => { Access::Scim };
    (@creates $gate:expr) => { Some($gate) };
    (@creates) => { None };
}

macro_rules! jobs {
    ($($static:ident = $name:literal [$($trigger:expr),*] $kind:ident $entry:path;)*) => {
        $(
            pub static $static: Job = Job {
                name: $name,
                triggers: &[$($trigger),*],
                entry: jobs!(@entry $kind $entry),
            };
        )*
        /// Every job and worker.
        pub static JOBS: &[&Job] = &[$(&$static),*];
    };
    // A scheduled job takes no input: the event only starts it.
    (@entry scheduled $entry:path) => { |app, _event| Box::pin(async move { report($entry(app).await) }) };
    // A worker takes its event typed (`roster_shared::worker_events`): the JSON Lambda hands
    // over becomes the type its entry asks for.
    (@entry event $entry:path) => {
        |app, event| Box::pin(async move {
            let event = serde_json::from_value(event).map_err(not_an_event)?;
            report($entry(app, event).await)
        })
    };
}

operations! {
    LOGIN = public POST "/v1/auth/login" => "login", handlers::auth::login;
    ISSUE_CLIENT_TOKEN = public POST "/v1/auth/token" => "issue-client-token", handlers::api_clients::token;
    CHANGE_PASSWORD = token POST "/v1/auth/password" => "change-password", handlers::auth::change_password;
    COMPLETE_PASSWORD_RESET = public POST "/v1/auth/password-reset" => "complete-password-reset", handlers::auth::complete_password_reset;
    REQUEST_PASSWORD_RESET = public POST "/v1/auth/password-reset/request" => "request-password-reset", handlers::auth::request_password_reset;
    VERIFY_EMAIL = public POST "/v1/auth/verify-email" => "verify-email", handlers::auth::verify_email;
    RESEND_VERIFICATION = public POST "/v1/auth/verify-email/resend" => "resend-verification", handlers::auth::resend_verification;
    REFRESH_SESSION = public POST "/v1/auth/refresh" => "refresh-session", handlers::sessions::refresh;
    LOGOUT = public POST "/v1/auth/logout" => "logout", handlers::sessions::logout;
    GET_JWKS = public GET "/.well-known/jwks.json" => "get-jwks", handlers::auth::jwks;
    GET_ME = token GET "/v1/me" => "get-me", handlers::me::get;
    UPDATE_ME = token PATCH "/v1/me" => "update-me", handlers::me::update;
    LIST_MY_LOGINS = token GET "/v1/me/login-log" => "list-my-logins", handlers::logins::mine;
    LIST_MY_SESSIONS = token GET "/v1/me/sessions" => "list-my-sessions", handlers::sessions::list;
    END_MY_SESSION = token DELETE "/v1/me/sessions/{session_id}" => "end-my-session", handlers::sessions::end;
    CONFIRM_EMAIL_CHANGE = token POST "/v1/me/email/confirm" => "confirm-email-change", handlers::me::confirm_email;
    CREATE_TENANT = token POST "/v1/tenants" => "create-tenant", handlers::tenants::create, creates Gate::Operators;
    LIST_TENANTS = token GET "/v1/tenants" => "list-tenants", handlers::tenants::list;
    GET_TENANT = token GET "/v1/tenants/{tenant_id}" => "get-tenant", handlers::tenants::get;
    UPDATE_TENANT = token PATCH "/v1/tenants/{tenant_id}" => "update-tenant", handlers::tenants::update;
    DELETE_TENANT = token DELETE "/v1/tenants/{tenant_id}" => "delete-tenant", handlers::tenants::delete;
    RESTORE_TENANT = token POST "/v1/tenants/{tenant_id}/restore" => "restore-tenant", handlers::tenants::restore;
    LIST_DEPARTMENTS = token GET "/v1/tenants/{tenant_id}/departments" => "list-departments", handlers::departments::list;
    CREATE_DEPARTMENT = token POST "/v1/tenants/{tenant_id}/departments" => "create-department", handlers::departments::create, creates Gate::Tenant(&[DepartmentsWrite]);
    GET_DEPARTMENT = token GET "/v1/tenants/{tenant_id}/departments/{department_id}" => "get-department", handlers::departments::get;
    UPDATE_DEPARTMENT = token PATCH "/v1/tenants/{tenant_id}/departments/{department_id}" => "update-department", handlers::departments::update;
    DELETE_DEPARTMENT = token DELETE "/v1/tenants/{tenant_id}/departments/{department_id}" => "delete-department", handlers::departments::delete;
    CREATE_MEMBER = token POST "/v1/tenants/{tenant_id}/members" => "create-member", handlers::members::create, creates Gate::Tenant(&[MembersWrite]);
    LIST_MEMBERS = token GET "/v1/tenants/{tenant_id}/members" => "list-members", handlers::members::list;
    GET_MEMBER = token GET "/v1/tenants/{tenant_id}/members/{member_id}" => "get-member", handlers::members::get;
    UPDATE_MEMBER = token PATCH "/v1/tenants/{tenant_id}/members/{member_id}" => "update-member", handlers::members::update;
    DELETE_MEMBER = token DELETE "/v1/tenants/{tenant_id}/members/{member_id}" => "delete-member", handlers::members::delete;
    BULK_UPDATE_MEMBERS = token POST "/v1/tenants/{tenant_id}/members/bulk-update" => "bulk-update-members", handlers::members::bulk_update;
    BULK_STATUS_MEMBERS = token POST "/v1/tenants/{tenant_id}/members/bulk-status" => "bulk-status-members", handlers::members::bulk_status;
    SEND_PASSWORD_RESET = token POST "/v1/tenants/{tenant_id}/members/{member_id}/reset-password" => "send-password-reset", handlers::members::reset_password;
    LIST_RECYCLE_BIN = token GET "/v1/tenants/{tenant_id}/recycle-bin" => "list-recycle-bin", handlers::members::recycle_bin;
    RESTORE_MEMBER = token POST "/v1/tenants/{tenant_id}/recycle-bin/{member_id}/restore" => "restore-member", handlers::members::restore;
    GET_LICENCES = token GET "/v1/tenants/{tenant_id}/licences" => "get-licences", handlers::licences::summary;
    ASSIGN_LICENCES = token POST "/v1/tenants/{tenant_id}/licences/assign" => "assign-licences", handlers::licences::assign;
    REVOKE_LICENCES = token POST "/v1/tenants/{tenant_id}/licences/revoke" => "revoke-licences", handlers::licences::revoke;
    RENEW_LICENCES = token POST "/v1/tenants/{tenant_id}/licences/renew" => "renew-licences", handlers::licences::renew;
    SET_MEMBER_LICENCE = token PUT "/v1/tenants/{tenant_id}/members/{member_id}/licence" => "set-member-licence", handlers::licences::set_for_member;
    REVOKE_MEMBER_LICENCE = token DELETE "/v1/tenants/{tenant_id}/members/{member_id}/licence" => "revoke-member-licence", handlers::licences::revoke_for_member;
    CREATE_INVITATION = token POST "/v1/tenants/{tenant_id}/invitations" => "create-invitation", handlers::invitations::create, creates Gate::Tenant(&[]);
    LIST_INVITATIONS = token GET "/v1/tenants/{tenant_id}/invitations" => "list-invitations", handlers::invitations::list;
    RESEND_INVITATION = token POST "/v1/tenants/{tenant_id}/invitations/{invitation_id}/resend" => "resend-invitation", handlers::invitations::resend;
    CANCEL_INVITATION = token DELETE "/v1/tenants/{tenant_id}/invitations/{invitation_id}" => "cancel-invitation", handlers::invitations::cancel;
    PREVIEW_INVITATION = public GET "/v1/invitations/{token}" => "preview-invitation", handlers::invitations::preview;
    ACCEPT_INVITATION = public POST "/v1/invitations/{token}/accept" => "accept-invitation", handlers::invitations::accept;
    CREATE_JOIN_LINK = token POST "/v1/tenants/{tenant_id}/join-links" => "create-join-link", handlers::joining::create_link, creates Gate::Tenant(&[InvitationsWrite]);
    LIST_JOIN_LINKS = token GET "/v1/tenants/{tenant_id}/join-links" => "list-join-links", handlers::joining::list_links;
    REVOKE_JOIN_LINK = token DELETE "/v1/tenants/{tenant_id}/join-links/{join_link_id}" => "revoke-join-link", handlers::joining::revoke_link;
    PREVIEW_JOIN_LINK = public GET "/v1/join/{code}" => "preview-join-link", handlers::joining::preview;
    JOIN = public POST "/v1/join/{code}" => "join", handlers::joining::join;
    ROTATE_JOIN_NUMBER = token POST "/v1/tenants/{tenant_id}/join-number/rotate" => "rotate-join-number", handlers::joining::rotate_number;
    PREVIEW_JOIN_NUMBER = public GET "/v1/join/number/{number}" => "preview-join-number", handlers::joining::preview_number;
    JOIN_BY_NUMBER = public POST "/v1/join/number/{number}" => "join-by-number", handlers::joining::join_by_number;
    LIST_JOIN_REQUESTS = token GET "/v1/tenants/{tenant_id}/join-requests" => "list-join-requests", handlers::joining::list_requests;
    APPROVE_JOIN_REQUEST = token POST "/v1/tenants/{tenant_id}/join-requests/{request_id}/approve" => "approve-join-request", handlers::joining::approve;
    REJECT_JOIN_REQUEST = token POST "/v1/tenants/{tenant_id}/join-requests/{request_id}/reject" => "reject-join-request", handlers::joining::reject;
    GET_IMPORT_TEMPLATE = token GET "/v1/tenants/{tenant_id}/imports/template" => "get-import-template", handlers::jobs::import_template;
    CREATE_IMPORT = token POST "/v1/tenants/{tenant_id}/imports" => "create-import", handlers::jobs::create_import, creates Gate::Tenant(&[ImportsRun]);
    START_IMPORT = token POST "/v1/tenants/{tenant_id}/imports/{job_id}/start" => "start-import", handlers::jobs::start_import;
    CREATE_EXPORT = token POST "/v1/tenants/{tenant_id}/exports" => "create-export", handlers::jobs::create_export, creates Gate::Tenant(&[ExportsRun, MembersRead]);
    LIST_JOBS = token GET "/v1/tenants/{tenant_id}/jobs" => "list-jobs", handlers::jobs::list;
    GET_JOB = token GET "/v1/tenants/{tenant_id}/jobs/{job_id}" => "get-job", handlers::jobs::get;
    DELETE_JOB = token DELETE "/v1/tenants/{tenant_id}/jobs/{job_id}" => "delete-job", handlers::jobs::delete;
    CREATE_API_CLIENT = token POST "/v1/tenants/{tenant_id}/api-clients" => "create-api-client", handlers::api_clients::create, creates Gate::TenantApi(&[ApiClientsWrite]);
    LIST_API_CLIENTS = token GET "/v1/tenants/{tenant_id}/api-clients" => "list-api-clients", handlers::api_clients::list;
    DELETE_API_CLIENT = token DELETE "/v1/tenants/{tenant_id}/api-clients/{client_id}" => "delete-api-client", handlers::api_clients::delete;
    CREATE_SCIM_TOKEN = token POST "/v1/tenants/{tenant_id}/scim-tokens" => "create-scim-token", handlers::scim::create_token, creates Gate::TenantApi(&[ApiClientsWrite]);
    LIST_SCIM_TOKENS = token GET "/v1/tenants/{tenant_id}/scim-tokens" => "list-scim-tokens", handlers::scim::list_tokens;
    REVOKE_SCIM_TOKEN = token DELETE "/v1/tenants/{tenant_id}/scim-tokens/{token_id}" => "revoke-scim-token", handlers::scim::revoke_token;
    SCIM_SERVICE_PROVIDER_CONFIG = scim GET "/scim/v2/{tenant_id}/ServiceProviderConfig" => "scim-service-provider-config", handlers::scim::service_provider_config;
    SCIM_LIST_RESOURCE_TYPES = scim GET "/scim/v2/{tenant_id}/ResourceTypes" => "scim-list-resource-types", handlers::scim::list_resource_types;
    SCIM_GET_RESOURCE_TYPE = scim GET "/scim/v2/{tenant_id}/ResourceTypes/{resource_type}" => "scim-get-resource-type", handlers::scim::get_resource_type;
    SCIM_LIST_SCHEMAS = scim GET "/scim/v2/{tenant_id}/Schemas" => "scim-list-schemas", handlers::scim::list_schemas;
    SCIM_GET_SCHEMA = scim GET "/scim/v2/{tenant_id}/Schemas/{schema_id}" => "scim-get-schema", handlers::scim::get_schema;
    SCIM_SEARCH = scim POST "/scim/v2/{tenant_id}/.search" => "scim-search", handlers::scim::search;
    SCIM_LIST_USERS = scim GET "/scim/v2/{tenant_id}/Users" => "scim-list-users", handlers::scim::list_users;
    SCIM_CREATE_USER = scim POST "/scim/v2/{tenant_id}/Users" => "scim-create-user", handlers::scim::create_user, creates Gate::Tenant(&[MembersWrite]);
    SCIM_GET_USER = scim GET "/scim/v2/{tenant_id}/Users/{user_id}" => "scim-get-user", handlers::scim::get_user;
    SCIM_REPLACE_USER = scim PUT "/scim/v2/{tenant_id}/Users/{user_id}" => "scim-replace-user", handlers::scim::replace_user;
    SCIM_PATCH_USER = scim PATCH "/scim/v2/{tenant_id}/Users/{user_id}" => "scim-patch-user", handlers::scim::patch_user;
    SCIM_DELETE_USER = scim DELETE "/scim/v2/{tenant_id}/Users/{user_id}" => "scim-delete-user", handlers::scim::delete_user;
    SCIM_LIST_GROUPS = scim GET "/scim/v2/{tenant_id}/Groups" => "scim-list-groups", handlers::scim::list_groups;
    SCIM_CREATE_GROUP = scim POST "/scim/v2/{tenant_id}/Groups" => "scim-create-group", handlers::scim::create_group, creates Gate::Tenant(&[DepartmentsWrite]);
    SCIM_GET_GROUP = scim GET "/scim/v2/{tenant_id}/Groups/{group_id}" => "scim-get-group", handlers::scim::get_group;
    SCIM_REPLACE_GROUP = scim PUT "/scim/v2/{tenant_id}/Groups/{group_id}" => "scim-replace-group", handlers::scim::replace_group;
    SCIM_PATCH_GROUP = scim PATCH "/scim/v2/{tenant_id}/Groups/{group_id}" => "scim-patch-group", handlers::scim::patch_group;
    SCIM_DELETE_GROUP = scim DELETE "/scim/v2/{tenant_id}/Groups/{group_id}" => "scim-delete-group", handlers::scim::delete_group;
    LIST_AUDIT_LOG = token GET "/v1/tenants/{tenant_id}/audit-log" => "list-audit-log", handlers::audit::list;
    LIST_LOGIN_LOG = token GET "/v1/tenants/{tenant_id}/login-log" => "list-login-log", handlers::logins::for_tenant;
    LIST_EVENTS = token GET "/v1/tenants/{tenant_id}/events" => "list-events", handlers::events::for_tenant;
    LIST_PLATFORM_EVENTS = token GET "/v1/events" => "list-platform-events", handlers::events::for_platform;
    CREATE_WEBHOOK = token POST "/v1/tenants/{tenant_id}/webhooks" => "create-webhook", handlers::webhooks::create, creates Gate::Tenant(&[WebhooksWrite]);
    LIST_WEBHOOKS = token GET "/v1/tenants/{tenant_id}/webhooks" => "list-webhooks", handlers::webhooks::list;
    GET_WEBHOOK = token GET "/v1/tenants/{tenant_id}/webhooks/{webhook_id}" => "get-webhook", handlers::webhooks::get;
    UPDATE_WEBHOOK = token PATCH "/v1/tenants/{tenant_id}/webhooks/{webhook_id}" => "update-webhook", handlers::webhooks::update;
    DELETE_WEBHOOK = token DELETE "/v1/tenants/{tenant_id}/webhooks/{webhook_id}" => "delete-webhook", handlers::webhooks::delete;
    ROTATE_WEBHOOK_SECRET = token POST "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/rotate-secret" => "rotate-webhook-secret", handlers::webhooks::rotate_secret;
    LIST_WEBHOOK_DELIVERIES = token GET "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/deliveries" => "list-webhook-deliveries", handlers::webhooks::deliveries;
    RETRY_WEBHOOK_DELIVERY = token POST "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/retry" => "retry-webhook-delivery", handlers::webhooks::retry_delivery;
}

jobs! {
    RECYCLE_PURGE = "recycle-purge" [Trigger::Schedule] scheduled roster_shared::members::purge::run;
    INVITATION_EXPIRY = "invitation-expiry" [Trigger::Schedule] scheduled roster_shared::invitations::expiry::run;
    LICENCE_EXPIRY = "licence-expiry" [Trigger::Schedule] scheduled roster_shared::licences::expiry::run;
    TENANT_PURGE = "tenant-purge" [Trigger::Schedule] scheduled roster_shared::tenants::purge::run;
    CONSISTENCY_CHECK = "consistency-check" [Trigger::Schedule] scheduled roster_shared::consistency::run;
    EXPORT_RUN = "export-run" [Trigger::Stream(r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["export"]}, "status": {"S": ["queued"]}}}}"#)] event roster_shared::jobs::export::handle_stream;
    IMPORT_RUN = "import-run" [
        Trigger::Upload { prefix: "tenants/", suffix: "/upload.csv" },
        Trigger::Stream(r#"{"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"kind": {"S": ["import"]}, "status": {"S": ["queued"]}}}}"#)
    ] event roster_shared::jobs::import::handle_event;
    // Its schedule sweeps for moves whose runs died (an event without records).
    DEPARTMENT_MOVE_RUN = "department-move-run" [
        Trigger::Stream(r#"{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"kind": {"S": ["department_move"]}, "status": {"S": ["queued"]}}}}"#),
        Trigger::Schedule
    ] event roster_shared::departments::moves::handle_event;
    JOB_DEAD_LETTERS = "job-dead-letters" [Trigger::DeadLetters] event roster_shared::jobs::dead_letters::handle_event;
    MAIL_OUTBOX = "mail-outbox" [Trigger::Stream(r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["outbox_mail"]}}}}"#)] event roster_shared::outbox_worker::handle_stream;
    EVENT_SEQUENCER = "event-sequencer" [
        Trigger::Stream(r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["event_pending"]}}}}"#),
        Trigger::Schedule
    ] event roster_shared::events::sequencer::handle_event;
    WEBHOOK_DISPATCH = "webhook-dispatch" [Trigger::Stream(r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["event"]}}}}"#)] event roster_shared::webhooks::worker::handle_stream;
    WEBHOOK_RETRY = "webhook-retry" [Trigger::Schedule] scheduled roster_shared::webhooks::worker::retry_due;
    EVENT_BUS = "event-bus" [Trigger::Stream(r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["event", "platform_only_event"]}}}}"#)] event roster_shared::events::bus::handle_stream;
    ROTATE_SIGNING_KEY = "rotate-signing-key" [Trigger::Rotation] event roster_shared::signing_keys::handle_rotation;
}

/// The job or worker named `name`.
pub fn job(name: &str) -> Option<&'static Job> {
    JOBS.iter().copied().find(|j| j.name == name)
}

/// What a request's method and path find in the table.
pub enum Match {
    /// The route and its path parameters.
    Found(&'static Operation, Vec<(String, String)>),
    /// The path exists under other methods (the `Allow` header's list).
    WrongMethod(Vec<Method>),
    Unknown,
}

/// Finds a request's route. As in OpenAPI, a path matches its most specific templates (the most
/// fixed segments): `/members/bulk-status` is never `/members/{member_id}`, whatever the method.
pub fn find(method: &Method, path: &str) -> Match {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut best: Vec<(&'static Operation, Vec<(String, String)>)> = Vec::new();
    let mut best_fixed = 0;
    for route in OPERATIONS.iter().copied() {
        let template: Vec<&str> = route.path.split('/').collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        let mut fixed = 0;
        let matched = template.iter().zip(&segments).all(|(t, s)| {
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(name) if !s.is_empty() => {
                    params.push((name.to_string(), s.to_string()));
                    true
                }
                Some(_) => false,
                None => {
                    fixed += 1;
                    t == s
                }
            }
        });
        if !matched || fixed < best_fixed {
            continue;
        }
        if fixed > best_fixed {
            best.clear();
            best_fixed = fixed;
        }
        best.push((route, params));
    }
    if best.is_empty() {
        return Match::Unknown;
    }
    let allowed = best.iter().map(|(r, _)| r.method.clone()).collect();
    match best.into_iter().find(|(r, _)| r.method == *method) {
        Some((route, params)) => Match::Found(route, params),
        None => Match::WrongMethod(allowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_routes_with_parameters() {
        let Match::Found(route, params) = find(&Method::GET, "/v1/tenants/abc/departments/def")
        else {
            panic!("no route");
        };
        assert_eq!(route.name, "get-department");
        assert_eq!(
            params,
            vec![
                ("tenant_id".into(), "abc".into()),
                ("department_id".into(), "def".into())
            ]
        );
        assert!(matches!(
            find(&Method::PUT, "/v1/tenants"),
            Match::WrongMethod(allowed) if allowed == vec![Method::POST, Method::GET]
        ));
        // A fixed segment beats a parameter, whatever the method.
        assert!(matches!(
            find(&Method::PATCH, "/v1/tenants/abc/members/bulk-status"),
            Match::WrongMethod(allowed) if allowed == vec![Method::POST]
        ));
        assert!(matches!(
            find(&Method::PATCH, "/v1/tenants/abc/members/def"),
            Match::Found(route, _) if route.name == "update-member"
        ));
        assert!(matches!(find(&Method::GET, "/v1/nothing"), Match::Unknown));
    }

    #[test]
    fn every_function_and_route_is_unique() {
        let names: Vec<&str> = OPERATIONS
            .iter()
            .map(|o| o.name)
            .chain(JOBS.iter().map(|j| j.name))
            .collect();
        for (i, name) in names.iter().enumerate() {
            assert!(!names[i + 1..].contains(name), "{name} twice");
        }
        for (i, a) in OPERATIONS.iter().enumerate() {
            for b in &OPERATIONS[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} twice",
                    a.path
                );
            }
        }
    }
}
