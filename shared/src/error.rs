//! The one error type of Roster. Every failure a client can see is a variant here and maps to an
//! RFC 9457 problem document with a stable machine `code` (SPEC.md §5).

use http::StatusCode;
use serde::Serialize;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A tenant a person may sign in to, offered when they must choose one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantChoice {
    pub id: uuid::Uuid,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request is invalid")]
    Validation(Vec<FieldError>),
    /// A sign-in with the right password, without `tenant_id`, by a person in several tenants:
    /// `validation_failed` on `tenant_id`, with the tenants to choose from.
    #[error("the account belongs to several tenants: choose one")]
    ChooseTenant(Vec<TenantChoice>),
    #[error("authentication is required or the credentials are invalid")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("the account is disabled")]
    AccountDisabled,
    /// The password is older than the tenant allows; the token only lets its holder change it.
    #[error("the password has expired; change it with the access_token given here")]
    PasswordExpired { access_token: String },
    #[error("sign-in from this address is not allowed")]
    IpNotAllowed,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("the department still has members or sub-departments")]
    DepartmentNotEmpty,
    #[error("a department cannot move under itself or one of its descendants")]
    DepartmentCycle,
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("the person is already a member of this tenant")]
    AlreadyMember,
    #[error("the person has asked to join and awaits approval; approve the join request instead")]
    JoinRequestPending,
    #[error("the person's join request was rejected; approve it (re-examine) instead of inviting")]
    PreviouslyRejected,
    /// The member in the recycle bin, whom the client may restore instead.
    #[error("the person was removed and is in the recycle bin; restore them instead")]
    PreviouslyRemoved { member_id: uuid::Uuid },
    /// A live invitation for the email exists; its id lets the client resend or cancel it.
    #[error("an invitation for this email or phone is already pending")]
    InvitationPending { invitation_id: uuid::Uuid },
    /// Members a licence operation cannot apply to, each with its reason.
    #[error("some members cannot take this licence change; see conflicts, or send skip_conflicts")]
    LicenceConflict { conflicts: Vec<LicenceConflict> },
    #[error("{0}")]
    InsufficientSeats(String),
    #[error("{0}")]
    FeatureNotEnabled(&'static str),
    /// Too many attempts; `retry_after` seconds until the next one may pass.
    #[error("{detail}")]
    RateLimited { detail: String, retry_after: u64 },
    /// The right password for an address nobody has proven yet: a verification link was mailed.
    #[error("the email address is not verified yet; follow the link just mailed to it")]
    EmailUnverified,
    #[error("the invitation has expired; ask for a new one")]
    InvitationExpired,
    #[error("the invitation has already been used, was cancelled or replaced by a newer one")]
    InvitationUsed,
    #[error("the resource has changed since it was read")]
    PreconditionFailed,
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    MethodNotAllowed(&'static str),
    /// A SCIM request the protocol refuses with its own `scimType` (RFC 7644 §3.12):
    /// `invalidFilter`, `invalidPath`, `noTarget`, `invalidValue`, `invalidSyntax`, `mutability`,
    /// `uniqueness`, `tooMany`, `invalidVers`.
    #[error("{detail}")]
    Scim {
        scim_type: &'static str,
        detail: String,
    },
    /// A dependency (DynamoDB, S3, SES) stayed throttled, failing or silent through the SDK's
    /// retries. Nothing of the request was written (or it was undone), so the client may retry
    /// after `retry_after` seconds; the cause is logged, never shown.
    #[error("a service Roster depends on is unavailable right now; retry after a moment")]
    Unavailable { cause: String, retry_after: u64 },
    #[error("internal error")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    /// A dependency that failed transiently: 503 with a short `Retry-After`.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            cause: cause.to_string(),
            retry_after: 1,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::ChooseTenant(_) => StatusCode::BAD_REQUEST,
            Self::Scim { scim_type, .. } => match *scim_type {
                "uniqueness" => StatusCode::CONFLICT,
                "invalidVers" => StatusCode::PRECONDITION_FAILED,
                _ => StatusCode::BAD_REQUEST,
            },
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_)
            | Self::AccountDisabled
            | Self::EmailUnverified
            | Self::PasswordExpired { .. }
            | Self::IpNotAllowed => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_)
            | Self::DepartmentNotEmpty
            | Self::DepartmentCycle
            | Self::QuotaExceeded(_)
            | Self::AlreadyMember
            | Self::JoinRequestPending
            | Self::PreviouslyRejected
            | Self::PreviouslyRemoved { .. }
            | Self::InvitationPending { .. }
            | Self::LicenceConflict { .. }
            | Self::InsufficientSeats(_) => StatusCode::CONFLICT,
            Self::FeatureNotEnabled(_) => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::InvitationExpired | Self::InvitationUsed => StatusCode::GONE,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) | Self::ChooseTenant(_) => "validation_failed",
            Self::Scim { scim_type, .. } => match *scim_type {
                "uniqueness" => "conflict",
                "invalidVers" => "precondition_failed",
                _ => "validation_failed",
            },
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::AccountDisabled => "account_disabled",
            Self::EmailUnverified => "email_unverified",
            Self::PasswordExpired { .. } => "password_expired",
            Self::IpNotAllowed => "ip_not_allowed",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::DepartmentNotEmpty => "department_not_empty",
            Self::DepartmentCycle => "department_cycle",
            Self::QuotaExceeded(_) => "quota_exceeded",
            Self::AlreadyMember => "already_member",
            Self::JoinRequestPending => "join_request_pending",
            Self::PreviouslyRejected => "previously_rejected",
            Self::PreviouslyRemoved { .. } => "previously_removed",
            Self::InvitationPending { .. } => "conflict",
            Self::LicenceConflict { .. } => "licence_conflict",
            Self::InsufficientSeats(_) => "insufficient_seats",
            Self::FeatureNotEnabled(_) => "feature_not_enabled",
            Self::RateLimited { .. } => "rate_limited",
            Self::InvitationExpired => "invitation_expired",
            Self::InvitationUsed => "invitation_used",
            Self::PreconditionFailed => "precondition_failed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::Validation(_) | Self::ChooseTenant(_) | Self::Scim { .. } => "Validation failed",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden(_) => "Forbidden",
            Self::AccountDisabled => "Account disabled",
            Self::EmailUnverified => "Email unverified",
            Self::PasswordExpired { .. } => "Password expired",
            Self::IpNotAllowed => "IP address not allowed",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed(_) => "Method not allowed",
            Self::Conflict(_) => "Conflict",
            Self::DepartmentNotEmpty => "Department not empty",
            Self::DepartmentCycle => "Department cycle",
            Self::QuotaExceeded(_) => "Quota exceeded",
            Self::AlreadyMember => "Already a member",
            Self::JoinRequestPending => "Join request pending",
            Self::PreviouslyRejected => "Previously rejected",
            Self::PreviouslyRemoved { .. } => "Previously removed",
            Self::InvitationPending { .. } => "Invitation pending",
            Self::LicenceConflict { .. } => "Licence conflict",
            Self::InsufficientSeats(_) => "Insufficient seats",
            Self::FeatureNotEnabled(_) => "Feature not enabled",
            Self::RateLimited { .. } => "Rate limited",
            Self::InvitationExpired => "Invitation expired",
            Self::InvitationUsed => "Invitation used",
            Self::PreconditionFailed => "Precondition failed",
            Self::PayloadTooLarge(_) => "Payload too large",
            Self::Unavailable { .. } => "Service unavailable",
            Self::Internal(_) => "Internal error",
        }
    }

    /// Seconds a rate-limited client, or one refused while a dependency is unavailable, waits
    /// (the `Retry-After` header and the body's `retry_after`).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The problem document. Internal details are never shown to clients; they are logged instead.
    pub fn problem(&self) -> Problem {
        let detail = match self {
            Self::Internal(_) => "an unexpected error occurred; it has been logged".to_string(),
            other => other.to_string(),
        };
        Problem {
            r#type: format!("https://roster.dev/problems/{}", self.code()),
            title: self.title(),
            status: self.status().as_u16(),
            code: self.code(),
            detail,
            errors: match self {
                Self::Validation(errors) => Some(errors.clone()),
                Self::ChooseTenant(_) => Some(vec![FieldError::new(
                    "tenant_id",
                    "is required: the account belongs to several tenants",
                )]),
                _ => None,
            },
            tenants: match self {
                Self::ChooseTenant(tenants) => Some(tenants.clone()),
                _ => None,
            },
            access_token: match self {
                Self::PasswordExpired { access_token } => Some(access_token.clone()),
                _ => None,
            },
            invitation_id: match self {
                Self::InvitationPending { invitation_id } => Some(*invitation_id),
                _ => None,
            },
            member_id: match self {
                Self::PreviouslyRemoved { member_id } => Some(*member_id),
                _ => None,
            },
            conflicts: match self {
                Self::LicenceConflict { conflicts } => Some(conflicts.clone()),
                _ => None,
            },
            retry_after: self.retry_after(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Problem {
    pub r#type: String,
    pub title: &'static str,
    pub status: u16,
    pub code: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// With a sign-in that must name its tenant (`errors` on `tenant_id`): the person's tenants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenants: Option<Vec<TenantChoice>>,
    /// With `password_expired`: a token that only allows POST /v1/auth/password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// With an `InvitationPending` conflict: the pending invitation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<uuid::Uuid>,
    /// With `previously_removed`: the member in the recycle bin, to restore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<uuid::Uuid>,
    /// With `licence_conflict`: each member and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<Vec<LicenceConflict>>,
    /// With `rate_limited` and `unavailable`: seconds until another attempt may pass (also the `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// One member a licence operation cannot apply to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LicenceConflict {
    pub member_id: uuid::Uuid,
    /// `unknown`, `deleted`, `disabled`, `not_a_member` (a join request), `already_licensed`,
    /// `no_licence`, `not_expiring` (not within 30 days), `renewal_queued`.
    pub reason: &'static str,
}

/// Collects validation failures so a client learns about every bad field at once.
#[derive(Debug, Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.fail(field, message);
        }
    }

    /// Whether `field` has failed a check so far.
    pub fn has_failed(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    pub fn finish(self) -> ApiResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let problem = ApiError::internal("secret table name").problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("secret"));
    }

    #[test]
    fn unavailable_is_a_503_that_says_when_to_retry_and_hides_its_cause() {
        let err = ApiError::unavailable("ThrottlingException on table roster-prod");
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        let problem = err.problem();
        assert_eq!(problem.code, "unavailable");
        assert_eq!(problem.retry_after, Some(1));
        assert!(!problem.detail.contains("roster-prod"));
    }

    #[test]
    fn validation_lists_fields() {
        let mut checks = Checks::new();
        checks.check(false, "name", "is required");
        checks.check(true, "kind", "never");
        let err = checks.finish().unwrap_err();
        assert_eq!(err.code(), "validation_failed");
        let problem = err.problem();
        assert_eq!(
            problem.errors.unwrap(),
            vec![FieldError::new("name", "is required")]
        );
    }
}
