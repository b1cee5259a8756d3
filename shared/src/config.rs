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
}

impl Config {
    pub fn from_env() -> ApiResult<Self> {
        Ok(Self {
            table: env("ROSTER_TABLE")?,
            bucket: env("ROSTER_BUCKET")?,
            mail_from: env("ROSTER_MAIL_FROM")?,
            app_url: env("ROSTER_APP_URL")?.trim_end_matches('/').to_string(),
            limits: Limits::from_env()?,
        })
    }
}

pub(crate) fn env(name: &str) -> ApiResult<String> {
    std::env::var(name).map_err(|_| ApiError::internal(format!("{name} is not set")))
}

/// The limits in force: deployment settings, SPEC.md §8.1's defaults unless the environment
/// (`ROSTER_LIMIT_*`) says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Failed sign-ins per account (by email, whether or not it exists).
    pub sign_in_account: u32,
    /// Failed sign-ins per source address.
    pub sign_in_address: u32,
    /// Attempts per source address at each public door: join, invitation accept, password-reset
    /// request, verification resend, verify-email, password reset.
    pub public_address: u32,
    /// Failed client-credentials grants per source address.
    pub client_grant_address: u32,
    /// The sliding window, in seconds.
    pub window_seconds: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            sign_in_account: 10,
            sign_in_address: 100,
            public_address: 30,
            client_grant_address: 100,
            window_seconds: 15 * 60,
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
        read("ROSTER_LIMIT_SIGN_IN_ADDRESS", &mut limits.sign_in_address)?;
        read("ROSTER_LIMIT_PUBLIC_ADDRESS", &mut limits.public_address)?;
        read(
            "ROSTER_LIMIT_CLIENT_GRANT_ADDRESS",
            &mut limits.client_grant_address,
        )?;
        Ok(limits)
    }

    /// Limits high enough never to be met by an ordinary test suite (the tests of the limits
    /// themselves use the defaults).
    pub fn relaxed() -> Self {
        Self {
            sign_in_account: 10_000,
            sign_in_address: 100_000,
            public_address: 100_000,
            client_grant_address: 100_000,
            ..Self::default()
        }
    }
}
