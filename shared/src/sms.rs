//! Outgoing text messages through SNS Publish to a phone number, and what texting may cost. Like
//! mail, a message is sent after the change it announces has committed; a failed send is logged
//! and reported. Texts cost money and can be looped for toll fraud, so each is counted first
//! against the tenant's daily budget and the number's daily cap across tenants, and each
//! invitation may text only so often (SPEC.md §9.1).

use crate::app::App;
use crate::config::SmsPolicy;
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::limits::{Attempt, Counter};
use crate::model::tenant::Tenant;
use time::OffsetDateTime;

#[derive(Clone)]
pub struct Texter {
    client: aws_sdk_sns::Client,
}

/// One text message to an E.164 number.
pub struct Sms {
    pub to: String,
    pub body: String,
}

impl Texter {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        Self { client }
    }

    pub async fn send(&self, sms: Sms) -> ApiResult<()> {
        self.client
            .publish()
            .phone_number(sms.to)
            .message(sms.body)
            .send()
            .await
            .map_err(crate::store::sdk_error)?;
        Ok(())
    }
}

/// Refuses a text to `to` (E.164) that would go over the tenant's daily budget or the number's
/// daily cap across all tenants, and counts it otherwise: 429 `rate_limited` with `Retry-After`
/// before anything is stored or sent. Counted up front (a conditional increment), so concurrent
/// sends cannot all slip under a cap; a send that then fails keeps its count, erring towards
/// fewer texts.
pub(crate) async fn count_text(app: &App, tenant: &Tenant, to: &str) -> ApiResult<()> {
    let counters = [
        Counter::daily("sms-tenant", tenant.id.to_string(), tenant.sms_daily_budget),
        Counter::daily(
            "sms-number",
            crypto::sha256_base64url(to.as_bytes()),
            app.config.sms.per_number_daily,
        ),
    ];
    let now = app.now();
    let keys: Vec<_> = counters.iter().flat_map(|c| c.keys(now)).collect();
    let items = app.store.get_many(&keys).await?;
    Attempt::count(app, &counters, &items).await.map(|_| ())
}

/// Refuses another text of one invitation: at most `per_invitation` in all, one per cooldown.
/// `texts_sent` and `last_sent_at` are the invitation's.
pub(crate) fn may_text_again(
    policy: &SmsPolicy,
    texts_sent: u32,
    last_sent_at: OffsetDateTime,
    now: OffsetDateTime,
) -> ApiResult<()> {
    if texts_sent >= policy.per_invitation {
        return Err(ApiError::RateLimited {
            detail: format!(
                "this invitation was texted {texts_sent} times, the most it may be; cancel it and invite again"
            ),
            retry_after: 24 * 3600,
        });
    }
    let wait = policy.cooldown_seconds - (now - last_sent_at).whole_seconds();
    if wait > 0 {
        return Err(ApiError::RateLimited {
            detail: "this invitation was texted a moment ago; wait before sending it again".into(),
            retry_after: wait as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn an_invitation_is_texted_at_most_five_times_one_minute_apart() {
        let policy = SmsPolicy::default();
        let sent = datetime!(2026-03-01 12:00 UTC);
        let code = |r: ApiResult<()>| r.err().map(|e| e.code());
        assert_eq!(
            code(may_text_again(
                &policy,
                1,
                sent,
                sent + time::Duration::seconds(60)
            )),
            None
        );
        match may_text_again(&policy, 1, sent, sent + time::Duration::seconds(45)) {
            Err(ApiError::RateLimited { retry_after, .. }) => assert_eq!(retry_after, 15),
            other => panic!("not refused: {other:?}"),
        }
        let later = sent + time::Duration::hours(1);
        assert_eq!(code(may_text_again(&policy, 4, sent, later)), None);
        assert_eq!(
            code(may_text_again(&policy, 5, sent, later)),
            Some("rate_limited")
        );
    }
}
