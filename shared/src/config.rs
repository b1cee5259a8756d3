//! Deployment settings, read from the environment once per container: the table, bucket and mail
//! sender, the web app's URL, and the abuse limits.

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone)]
pub struct Config {
    pub table: String,
    pub bucket: String,
    pub mail_from: String,
    /// Base URL of the web app the links in mails point to.
    pub app_url: String,
    /// Abuse limits (sign-in throttling, per-address limits).
    pub limits: Limits,
    /// What texting may reach (countries, per-number and per-invitation caps).
    pub sms: SmsPolicy,
    /// How long one DynamoDB attempt may take before the SDK gives up on it and retries
    /// (`ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS`): a request DynamoDB answers in milliseconds that has
    /// taken seconds is lost, and waiting for it would outlast API Gateway's 29 s.
    pub dynamodb_attempt_timeout: std::time::Duration,
    /// Whether the scheduled consistency check repairs what it finds
    /// (`ROSTER_CONSISTENCY_REPAIR=true`); it only reports by default.
    pub consistency_repair: bool,
    /// The Secrets Manager secret the keys that seal kept answers derive from
    /// (`ROSTER_SEALING_SECRET`, see the `sealing` module): given only to the functions that seal.
    pub sealing_secret: Option<String>,
    /// The secret CloudFront adds to the requests it passes on (`ROSTER_EDGE_SECRET`, see the
    /// `client_address` module); without it no request is believed to come through the edge.
    pub edge_secret: Option<String>,
    /// Whether webhooks may go to `http` URLs and loopback addresses
    /// (`ROSTER_WEBHOOKS_ALLOW_LOCAL=true`): the local stack and its tests only.
    pub webhooks_allow_local: bool,
    /// The EventBridge bus every event is also put on (`ROSTER_EVENT_BUS`, SPEC.md §9.2's
    /// `RosterEvents` unless the deployment names another).
    pub event_bus: String,
}

/// The bus SPEC.md §9.2 names.
pub const DEFAULT_EVENT_BUS: &str = "RosterEvents";

impl Config {
    pub fn from_env() -> ApiResult<Self> {
        Ok(Self {
            table: env("ROSTER_TABLE")?,
            bucket: env("ROSTER_BUCKET")?,
            mail_from: env("ROSTER_MAIL_FROM")?,
            app_url: env("ROSTER_APP_URL")?.trim_end_matches('/').to_string(),
            limits: Limits::from_env()?,
            sms: SmsPolicy::from_env()?,
            dynamodb_attempt_timeout: dynamodb_attempt_timeout()?,
            consistency_repair: std::env::var("ROSTER_CONSISTENCY_REPAIR")
                .is_ok_and(|v| v == "true"),
            sealing_secret: std::env::var("ROSTER_SEALING_SECRET").ok(),
            webhooks_allow_local: std::env::var("ROSTER_WEBHOOKS_ALLOW_LOCAL")
                .is_ok_and(|v| v == "true"),
            event_bus: std::env::var("ROSTER_EVENT_BUS")
                .ok()
                .filter(|bus| !bus.is_empty())
                .unwrap_or_else(|| DEFAULT_EVENT_BUS.into()),
            edge_secret: std::env::var("ROSTER_EDGE_SECRET")
                .ok()
                .filter(|secret| !secret.is_empty()),
        })
    }
}

/// Three attempts of 3 s each, with the SDK's backoff between them, stay well inside API Gateway's
/// 29 s; the environment may say otherwise (the local emulator serialises requests, so a test run
/// under load allows more).
pub fn dynamodb_attempt_timeout() -> ApiResult<std::time::Duration> {
    let millis = match std::env::var("ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS") {
        Ok(value) => value.parse().map_err(|_| {
            ApiError::internal("ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS is not a whole number")
        })?,
        Err(_) => 3_000,
    };
    Ok(std::time::Duration::from_millis(millis))
}

pub(crate) fn env(name: &str) -> ApiResult<String> {
    std::env::var(name).map_err(|_| ApiError::internal(format!("{name} is not set")))
}

/// The limits in force: deployment settings, SPEC.md §8.1's and §9.1's defaults unless the
/// environment (`ROSTER_LIMIT_*`) says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Failed sign-ins per account (by email, whether or not it exists) from every address: the
    /// account-wide ceiling.
    pub sign_in_account: u32,
    /// Failed sign-ins per account from one source address.
    pub sign_in_account_address: u32,
    /// Failed `current_password` checks per signed-in account; the last one ends its sessions.
    pub current_password: u32,
    /// Failed sign-ins per source address.
    pub sign_in_address: u32,
    /// Attempts per source address at each public door: join, invitation accept, password-reset
    /// request, verification resend, verify-email, password reset.
    pub public_address: u32,
    /// Failed client-credentials grants per source address.
    pub client_grant_address: u32,
    /// Failed session refreshes per source address (a refresh token unknown, spent, ended or of
    /// an ended account).
    pub refresh_address: u32,
    /// The sliding window, in seconds.
    pub window_seconds: i64,
    /// Pending join requests through public doors (join links, the join number) per tenant: they
    /// hold no place in the member quota, so this caps what strangers can file.
    pub pending_join_requests: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            sign_in_account: 100,
            sign_in_account_address: 10,
            current_password: 10,
            sign_in_address: 100,
            public_address: 30,
            client_grant_address: 100,
            refresh_address: 100,
            window_seconds: 15 * 60,
            pending_join_requests: 100,
        }
    }
}

impl Limits {
    pub fn from_env() -> ApiResult<Self> {
        let mut limits = Self::default();
        let read = |name: &str, into: &mut u32| -> ApiResult<()> {
            if let Ok(value) = std::env::var(name) {
                *into = value
                    .parse()
                    .map_err(|_| ApiError::internal(format!("{name} is not a whole number")))?;
            }
            Ok(())
        };
        read("ROSTER_LIMIT_SIGN_IN_ACCOUNT", &mut limits.sign_in_account)?;
        read(
            "ROSTER_LIMIT_SIGN_IN_ACCOUNT_ADDRESS",
            &mut limits.sign_in_account_address,
        )?;
        read(
            "ROSTER_LIMIT_CURRENT_PASSWORD",
            &mut limits.current_password,
        )?;
        read("ROSTER_LIMIT_SIGN_IN_ADDRESS", &mut limits.sign_in_address)?;
        read("ROSTER_LIMIT_PUBLIC_ADDRESS", &mut limits.public_address)?;
        read(
            "ROSTER_LIMIT_PENDING_JOIN_REQUESTS",
            &mut limits.pending_join_requests,
        )?;
        read(
            "ROSTER_LIMIT_CLIENT_GRANT_ADDRESS",
            &mut limits.client_grant_address,
        )?;
        read("ROSTER_LIMIT_REFRESH_ADDRESS", &mut limits.refresh_address)?;
        Ok(limits)
    }

    /// Limits high enough never to be met by an ordinary test suite (the tests of the limits
    /// themselves use the defaults).
    pub fn relaxed() -> Self {
        Self {
            sign_in_account: 10_000,
            sign_in_account_address: 10_000,
            current_password: 10_000,
            sign_in_address: 100_000,
            public_address: 100_000,
            client_grant_address: 100_000,
            refresh_address: 100_000,
            pending_join_requests: 100_000,
            ..Self::default()
        }
    }
}

/// What texting may reach: deployment settings (`ROSTER_SMS_*`) with SPEC.md §9.1's defaults.
/// The daily budget of each tenant is the tenant's own (`sms_daily_budget`, set by operators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsPolicy {
    /// ISO 3166 region codes texts may go to (`ROSTER_SMS_COUNTRIES`, comma-separated): every
    /// other country is refused before anything is stored or sent.
    pub countries: Vec<String>,
    /// Texts a day to one number, across all tenants (`ROSTER_SMS_PER_NUMBER_DAILY`).
    pub per_number_daily: u32,
    /// Texts one invitation may send in all.
    pub per_invitation: u32,
    /// Seconds between two texts of one invitation.
    pub cooldown_seconds: i64,
}

/// Where texts may go unless the deployment says otherwise.
const DEFAULT_SMS_COUNTRIES: &str = "CN,GB,US";

impl Default for SmsPolicy {
    fn default() -> Self {
        Self {
            countries: countries(DEFAULT_SMS_COUNTRIES),
            per_number_daily: 5,
            per_invitation: 5,
            cooldown_seconds: 60,
        }
    }
}

impl SmsPolicy {
    pub fn from_env() -> ApiResult<Self> {
        let mut policy = Self::default();
        if let Ok(list) = std::env::var("ROSTER_SMS_COUNTRIES") {
            policy.countries = countries(&list);
        }
        if let Ok(value) = std::env::var("ROSTER_SMS_PER_NUMBER_DAILY") {
            policy.per_number_daily = value.parse().map_err(|_| {
                ApiError::internal("ROSTER_SMS_PER_NUMBER_DAILY is not a whole number")
            })?;
        }
        Ok(policy)
    }

    /// Whether texts may go to the region `code` (ISO 3166, e.g. `GB`).
    pub fn allows_country(&self, code: &str) -> bool {
        self.countries.iter().any(|c| c.eq_ignore_ascii_case(code))
    }
}

fn countries(list: &str) -> Vec<String> {
    list.split(',')
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .collect()
}
