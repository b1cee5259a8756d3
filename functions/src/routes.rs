//! THE route table: every API operation, its method and path, and the Lambda function (binary)
//! that serves it. The local gateway routes by it; a test checks template.yaml, openapi.yaml and
//! `src/bin/` against it.

use crate::handlers::{self, Answer};
use http::Method;
use lambda_http::Request;
use roster_shared::App;
use roster_shared::auth::Permission::{
    ApiClientsWrite, DepartmentsWrite, ExportsRun, ImportsRun, InvitationsWrite, MembersRead,
    MembersWrite,
};
use roster_shared::idempotency::Gate;
use std::future::Future;
use std::pin::Pin;

pub type Handler = fn(&'static App, Request) -> Pin<Box<dyn Future<Output = Answer> + Send>>;

pub struct Route {
    pub method: Method,
    /// API Gateway's path template, e.g. `/v1/tenants/{tenant_id}`.
    pub path: &'static str,
    /// The binary in `src/bin/` and the function in template.yaml.
    pub function: &'static str,
    pub handler: Handler,
    /// Answers without a bearer token (a token, if sent, must still be valid).
    pub public: bool,
    /// A POST that creates: it honours `Idempotency-Key` (SPEC.md §8.6), and a retry gets the
    /// kept answer only past this gate, what the operation asks of its caller (SPEC.md §9.1).
    pub creates: Option<Gate>,
}

macro_rules! route {
    (public $method:ident $path:literal => $function:literal, $handler:path) => {
        Route {
            public: true,
            ..route!($method $path => $function, $handler)
        }
    };
    (creates($gate:expr) $method:ident $path:literal => $function:literal, $handler:path) => {
        Route {
            creates: Some($gate),
            ..route!($method $path => $function, $handler)
        }
    };
    ($method:ident $path:literal => $function:literal, $handler:path) => {
        Route {
            method: Method::$method,
            path: $path,
            function: $function,
            handler: |app, req| Box::pin($handler(app, req)),
            public: false,
            creates: None,
        }
    };
}

pub fn routes() -> Vec<Route> {
    vec![
        route!(public POST "/v1/auth/login" => "login", handlers::auth::login),
        route!(public POST "/v1/auth/token" => "issue-client-token", handlers::api_clients::token),
        route!(POST "/v1/auth/password" => "change-password", handlers::auth::change_password),
        route!(public POST "/v1/auth/password-reset" => "complete-password-reset", handlers::auth::complete_password_reset),
        route!(public POST "/v1/auth/password-reset/request" => "request-password-reset", handlers::auth::request_password_reset),
        route!(public POST "/v1/auth/verify-email" => "verify-email", handlers::auth::verify_email),
        route!(public POST "/v1/auth/verify-email/resend" => "resend-verification", handlers::auth::resend_verification),
        route!(public GET "/.well-known/jwks.json" => "get-jwks", handlers::auth::jwks),
        route!(GET "/v1/me" => "get-me", handlers::me::get),
        route!(PATCH "/v1/me" => "update-me", handlers::me::update),
        route!(GET "/v1/me/login-log" => "list-my-logins", handlers::logins::mine),
        route!(POST "/v1/me/email/confirm" => "confirm-email-change", handlers::me::confirm_email),
        route!(creates(Gate::Operators) POST "/v1/tenants" => "create-tenant", handlers::tenants::create),
        route!(GET "/v1/tenants" => "list-tenants", handlers::tenants::list),
        route!(GET "/v1/tenants/{tenant_id}" => "get-tenant", handlers::tenants::get),
        route!(PATCH "/v1/tenants/{tenant_id}" => "update-tenant", handlers::tenants::update),
        route!(DELETE "/v1/tenants/{tenant_id}" => "delete-tenant", handlers::tenants::delete),
        route!(POST "/v1/tenants/{tenant_id}/restore" => "restore-tenant", handlers::tenants::restore),
        route!(GET "/v1/tenants/{tenant_id}/departments" => "list-departments", handlers::departments::list),
        route!(creates(Gate::Tenant(&[DepartmentsWrite])) POST "/v1/tenants/{tenant_id}/departments" => "create-department", handlers::departments::create),
        route!(GET "/v1/tenants/{tenant_id}/departments/{department_id}" => "get-department", handlers::departments::get),
        route!(PATCH "/v1/tenants/{tenant_id}/departments/{department_id}" => "update-department", handlers::departments::update),
        route!(DELETE "/v1/tenants/{tenant_id}/departments/{department_id}" => "delete-department", handlers::departments::delete),
        route!(creates(Gate::Tenant(&[MembersWrite])) POST "/v1/tenants/{tenant_id}/members" => "create-member", handlers::members::create),
        route!(GET "/v1/tenants/{tenant_id}/members" => "list-members", handlers::members::list),
        route!(GET "/v1/tenants/{tenant_id}/members/{member_id}" => "get-member", handlers::members::get),
        route!(PATCH "/v1/tenants/{tenant_id}/members/{member_id}" => "update-member", handlers::members::update),
        route!(DELETE "/v1/tenants/{tenant_id}/members/{member_id}" => "delete-member", handlers::members::delete),
        route!(POST "/v1/tenants/{tenant_id}/members/bulk-update" => "bulk-update-members", handlers::members::bulk_update),
        route!(POST "/v1/tenants/{tenant_id}/members/bulk-status" => "bulk-status-members", handlers::members::bulk_status),
        route!(POST "/v1/tenants/{tenant_id}/members/{member_id}/reset-password" => "send-password-reset", handlers::members::reset_password),
        route!(GET "/v1/tenants/{tenant_id}/recycle-bin" => "list-recycle-bin", handlers::members::recycle_bin),
        route!(POST "/v1/tenants/{tenant_id}/recycle-bin/{member_id}/restore" => "restore-member", handlers::members::restore),
        route!(GET "/v1/tenants/{tenant_id}/licences" => "get-licences", handlers::licences::summary),
        route!(POST "/v1/tenants/{tenant_id}/licences/assign" => "assign-licences", handlers::licences::assign),
        route!(POST "/v1/tenants/{tenant_id}/licences/revoke" => "revoke-licences", handlers::licences::revoke),
        route!(POST "/v1/tenants/{tenant_id}/licences/renew" => "renew-licences", handlers::licences::renew),
        route!(PUT "/v1/tenants/{tenant_id}/members/{member_id}/licence" => "set-member-licence", handlers::licences::set_for_member),
        route!(DELETE "/v1/tenants/{tenant_id}/members/{member_id}/licence" => "revoke-member-licence", handlers::licences::revoke_for_member),
        route!(creates(Gate::Tenant(&[])) POST "/v1/tenants/{tenant_id}/invitations" => "create-invitation", handlers::invitations::create),
        route!(GET "/v1/tenants/{tenant_id}/invitations" => "list-invitations", handlers::invitations::list),
        route!(POST "/v1/tenants/{tenant_id}/invitations/{invitation_id}/resend" => "resend-invitation", handlers::invitations::resend),
        route!(DELETE "/v1/tenants/{tenant_id}/invitations/{invitation_id}" => "cancel-invitation", handlers::invitations::cancel),
        route!(public GET "/v1/invitations/{token}" => "preview-invitation", handlers::invitations::preview),
        route!(public POST "/v1/invitations/{token}/accept" => "accept-invitation", handlers::invitations::accept),
        route!(creates(Gate::Tenant(&[InvitationsWrite])) POST "/v1/tenants/{tenant_id}/join-links" => "create-join-link", handlers::joining::create_link),
        route!(GET "/v1/tenants/{tenant_id}/join-links" => "list-join-links", handlers::joining::list_links),
        route!(DELETE "/v1/tenants/{tenant_id}/join-links/{join_link_id}" => "revoke-join-link", handlers::joining::revoke_link),
        route!(public GET "/v1/join/{code}" => "preview-join-link", handlers::joining::preview),
        route!(public POST "/v1/join/{code}" => "join", handlers::joining::join),
        route!(POST "/v1/tenants/{tenant_id}/join-number/rotate" => "rotate-join-number", handlers::joining::rotate_number),
        route!(public GET "/v1/join/number/{number}" => "preview-join-number", handlers::joining::preview_number),
        route!(public POST "/v1/join/number/{number}" => "join-by-number", handlers::joining::join_by_number),
        route!(GET "/v1/tenants/{tenant_id}/join-requests" => "list-join-requests", handlers::joining::list_requests),
        route!(POST "/v1/tenants/{tenant_id}/join-requests/{request_id}/approve" => "approve-join-request", handlers::joining::approve),
        route!(POST "/v1/tenants/{tenant_id}/join-requests/{request_id}/reject" => "reject-join-request", handlers::joining::reject),
        route!(GET "/v1/tenants/{tenant_id}/imports/template" => "get-import-template", handlers::jobs::import_template),
        route!(creates(Gate::Tenant(&[ImportsRun])) POST "/v1/tenants/{tenant_id}/imports" => "create-import", handlers::jobs::create_import),
        route!(POST "/v1/tenants/{tenant_id}/imports/{job_id}/start" => "start-import", handlers::jobs::start_import),
        route!(creates(Gate::Tenant(&[ExportsRun, MembersRead])) POST "/v1/tenants/{tenant_id}/exports" => "create-export", handlers::jobs::create_export),
        route!(GET "/v1/tenants/{tenant_id}/jobs" => "list-jobs", handlers::jobs::list),
        route!(GET "/v1/tenants/{tenant_id}/jobs/{job_id}" => "get-job", handlers::jobs::get),
        route!(DELETE "/v1/tenants/{tenant_id}/jobs/{job_id}" => "delete-job", handlers::jobs::delete),
        route!(creates(Gate::TenantApi(&[ApiClientsWrite])) POST "/v1/tenants/{tenant_id}/api-clients" => "create-api-client", handlers::api_clients::create),
        route!(GET "/v1/tenants/{tenant_id}/api-clients" => "list-api-clients", handlers::api_clients::list),
        route!(DELETE "/v1/tenants/{tenant_id}/api-clients/{client_id}" => "delete-api-client", handlers::api_clients::delete),
        route!(creates(Gate::TenantApi(&[ApiClientsWrite])) POST "/v1/tenants/{tenant_id}/scim-tokens" => "create-scim-token", handlers::scim::create_token),
        route!(GET "/v1/tenants/{tenant_id}/scim-tokens" => "list-scim-tokens", handlers::scim::list_tokens),
        route!(DELETE "/v1/tenants/{tenant_id}/scim-tokens/{token_id}" => "revoke-scim-token", handlers::scim::revoke_token),
        route!(GET "/scim/v2/{tenant_id}/ServiceProviderConfig" => "scim-service-provider-config", handlers::scim::service_provider_config),
        route!(GET "/scim/v2/{tenant_id}/ResourceTypes" => "scim-list-resource-types", handlers::scim::list_resource_types),
        route!(GET "/scim/v2/{tenant_id}/ResourceTypes/{resource_type}" => "scim-get-resource-type", handlers::scim::get_resource_type),
        route!(GET "/scim/v2/{tenant_id}/Schemas" => "scim-list-schemas", handlers::scim::list_schemas),
        route!(GET "/scim/v2/{tenant_id}/Schemas/{schema_id}" => "scim-get-schema", handlers::scim::get_schema),
        route!(POST "/scim/v2/{tenant_id}/.search" => "scim-search", handlers::scim::search),
        route!(GET "/scim/v2/{tenant_id}/Users" => "scim-list-users", handlers::scim::list_users),
        route!(creates(Gate::Tenant(&[MembersWrite])) POST "/scim/v2/{tenant_id}/Users" => "scim-create-user", handlers::scim::create_user),
        route!(GET "/scim/v2/{tenant_id}/Users/{user_id}" => "scim-get-user", handlers::scim::get_user),
        route!(PUT "/scim/v2/{tenant_id}/Users/{user_id}" => "scim-replace-user", handlers::scim::replace_user),
        route!(PATCH "/scim/v2/{tenant_id}/Users/{user_id}" => "scim-patch-user", handlers::scim::patch_user),
        route!(DELETE "/scim/v2/{tenant_id}/Users/{user_id}" => "scim-delete-user", handlers::scim::delete_user),
        route!(GET "/scim/v2/{tenant_id}/Groups" => "scim-list-groups", handlers::scim::list_groups),
        route!(creates(Gate::Tenant(&[DepartmentsWrite])) POST "/scim/v2/{tenant_id}/Groups" => "scim-create-group", handlers::scim::create_group),
        route!(GET "/scim/v2/{tenant_id}/Groups/{group_id}" => "scim-get-group", handlers::scim::get_group),
        route!(PUT "/scim/v2/{tenant_id}/Groups/{group_id}" => "scim-replace-group", handlers::scim::replace_group),
        route!(PATCH "/scim/v2/{tenant_id}/Groups/{group_id}" => "scim-patch-group", handlers::scim::patch_group),
        route!(DELETE "/scim/v2/{tenant_id}/Groups/{group_id}" => "scim-delete-group", handlers::scim::delete_group),
        route!(GET "/v1/tenants/{tenant_id}/audit-log" => "list-audit-log", handlers::audit::list),
        route!(GET "/v1/tenants/{tenant_id}/login-log" => "list-login-log", handlers::logins::for_tenant),
    ]
}

/// Whether the operation behind an API Gateway route key (`POST /v1/auth/login`) answers without
/// a bearer token. Unknown keys are not public.
pub fn is_public(route_key: &str) -> bool {
    static PUBLIC: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    PUBLIC
        .get_or_init(|| {
            routes()
                .iter()
                .filter(|r| r.public)
                .map(|r| format!("{} {}", r.method, r.path))
                .collect()
        })
        .iter()
        .any(|key| key == route_key)
}

/// The gate of the operation behind a route key if it creates (and so honours `Idempotency-Key`).
pub fn creates(route_key: &str) -> Option<Gate> {
    static CREATES: std::sync::OnceLock<Vec<(String, Gate)>> = std::sync::OnceLock::new();
    CREATES
        .get_or_init(|| {
            routes()
                .iter()
                .filter_map(|r| Some((format!("{} {}", r.method, r.path), r.creates?)))
                .collect()
        })
        .iter()
        .find(|(key, _)| key == route_key)
        .map(|(_, gate)| *gate)
}

/// What a request's method and path find in the table.
pub enum Match<'r> {
    /// The route and its path parameters.
    Found(&'r Route, Vec<(String, String)>),
    /// The path exists under other methods (the `Allow` header's list).
    WrongMethod(Vec<Method>),
    Unknown,
}

/// Finds a request's route. As in OpenAPI, a path matches its most specific templates (the most
/// fixed segments): `/members/bulk-status` is never `/members/{member_id}`, whatever the method.
pub fn find<'r>(routes: &'r [Route], method: &Method, path: &str) -> Match<'r> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut best: Vec<(&Route, Vec<(String, String)>)> = Vec::new();
    let mut best_fixed = 0;
    for route in routes {
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
        let routes = routes();
        let Match::Found(route, params) =
            find(&routes, &Method::GET, "/v1/tenants/abc/departments/def")
        else {
            panic!("no route");
        };
        assert_eq!(route.function, "get-department");
        assert_eq!(
            params,
            vec![
                ("tenant_id".into(), "abc".into()),
                ("department_id".into(), "def".into())
            ]
        );
        assert!(matches!(
            find(&routes, &Method::PUT, "/v1/tenants"),
            Match::WrongMethod(allowed) if allowed == vec![Method::POST, Method::GET]
        ));
        // A fixed segment beats a parameter, whatever the method.
        assert!(matches!(
            find(&routes, &Method::PATCH, "/v1/tenants/abc/members/bulk-status"),
            Match::WrongMethod(allowed) if allowed == vec![Method::POST]
        ));
        assert!(matches!(
            find(&routes, &Method::PATCH, "/v1/tenants/abc/members/def"),
            Match::Found(route, _) if route.function == "update-member"
        ));
        assert!(matches!(
            find(&routes, &Method::GET, "/v1/nothing"),
            Match::Unknown
        ));
    }

    #[test]
    fn every_route_is_unique() {
        let routes = routes();
        for (i, a) in routes.iter().enumerate() {
            for b in &routes[i + 1..] {
                assert!(a.function != b.function, "{} twice", a.function);
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} twice",
                    a.path
                );
            }
        }
    }
}
