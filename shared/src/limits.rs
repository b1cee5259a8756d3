//! Abuse limits: how many attempts an account or a source address may make in a window, counted
//! in the table (items with a TTL, so nothing is held in a process) and answered with 429
//! `rate_limited` and `Retry-After`.
//!
//! Each counter keeps one item per fixed window, and a check weighs the previous window by the
//! part of it still inside the sliding window (the estimate Cloudflare and others use), so a burst
//! across a window boundary gets no second allowance. An attempt is counted *before* the work it
//! guards (a conditional increment), so concurrent attempts cannot all slip under the limit; where
//! only failures count (sign-in, the client-credentials grant), a success takes its count back.
//!
//! Sign-in failures are counted per account and source address (10 refuse that address), per
//! account (a ceiling of 100 refuses every address) and per address (100 refuse every account
//! from it). An account's counters share one partition, so a completed password reset clears
//! them all at once.

use crate::app::App;
pub use crate::config::Limits;
use crate::config::SmsPolicy;
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::model::keys::{Key, rate_partition, rate_window};
use crate::model::tenant::Tenant;
use crate::store::{Condition, Item, Query, SortRange, Transaction, Update, key_of, num};
use time::OffsetDateTime;

/// What one counter counts: a door and who knocks at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    door: &'static str,
    subject: String,
    /// A part of the subject counted apart (an account's attempts from one address).
    part: Option<String>,
    max: u32,
    window: i64,
}

const SIGN_IN_ACCOUNT: &str = "signin-account";

impl Counter {
    /// Failed sign-ins on one account from every address: the account-wide ceiling. The email
    /// is hashed: counters need no readable address.
    pub fn sign_in_account(limits: &Limits, email: &str) -> Self {
        Self::new(
            SIGN_IN_ACCOUNT,
            account(email),
            limits.sign_in_account,
            limits,
        )
    }

    /// Failed sign-ins on one account from one address.
    pub fn sign_in_account_address(limits: &Limits, email: &str, source_ip: Option<&str>) -> Self {
        Self {
            part: Some(format!("addr#{}", address(source_ip))),
            ..Self::new(
                SIGN_IN_ACCOUNT,
                account(email),
                limits.sign_in_account_address,
                limits,
            )
        }
    }

    /// Failed `current_password` checks of a signed-in account, from any address.
    pub fn current_password(limits: &Limits, email: &str) -> Self {
        Self {
            part: Some("check".into()),
            ..Self::new(
                SIGN_IN_ACCOUNT,
                account(email),
                limits.current_password,
                limits,
            )
        }
    }

    pub fn sign_in_address(limits: &Limits, source_ip: Option<&str>) -> Self {
        Self::new(
            "signin-address",
            address(source_ip),
            limits.sign_in_address,
            limits,
        )
    }

    pub fn client_grant_address(limits: &Limits, source_ip: Option<&str>) -> Self {
        Self::new(
            "grant-address",
            address(source_ip),
            limits.client_grant_address,
            limits,
        )
    }

    /// Failed session refreshes from one address.
    pub fn refresh_address(limits: &Limits, source_ip: Option<&str>) -> Self {
        Self::new(
            "refresh-address",
            address(source_ip),
            limits.refresh_address,
            limits,
        )
    }

    /// Attempts at one public door (`join`, `accept`, `reset-request`, ...) from one address.
    pub fn public(limits: &Limits, door: &'static str, source_ip: Option<&str>) -> Self {
        Self::new(door, address(source_ip), limits.public_address, limits)
    }

    /// At most `max` a day (a sliding day) for one subject: texts to a number, or a tenant's.
    pub fn daily(door: &'static str, subject: String, max: u32) -> Self {
        Self {
            door,
            subject,
            part: None,
            max,
            window: 24 * 3600,
        }
    }

    fn new(door: &'static str, subject: String, max: u32, limits: &Limits) -> Self {
        Self {
            door,
            subject,
            part: None,
            max,
            window: limits.window_seconds.max(1),
        }
    }

    fn window_of(&self, now: OffsetDateTime) -> i64 {
        now.unix_timestamp().div_euclid(self.window)
    }

    /// The counter items this check reads: the current window's and the previous one's.
    pub fn keys(&self, now: OffsetDateTime) -> [Key; 2] {
        let window = self.window_of(now);
        let part = self.part.as_deref();
        [
            Key::rate_counter(self.door, &self.subject, part, window),
            Key::rate_counter(self.door, &self.subject, part, window - 1),
        ]
    }

    /// How many more attempts the current window's item may take now, or the refusal.
    fn allowance(&self, counts: Counts, now: OffsetDateTime) -> Result<u32, ApiError> {
        let cap = window_cap(self.max, counts.previous, self.elapsed(now), self.window);
        if counts.current < cap {
            Ok(cap)
        } else {
            Err(self.refusal(counts, now))
        }
    }

    /// The TTL of the current window's item: kept until the window after next has started, the
    /// last moment it is still weighed.
    fn expiry(&self, now: OffsetDateTime) -> i64 {
        (self.window_of(now) + 2) * self.window + 1
    }

    fn elapsed(&self, now: OffsetDateTime) -> i64 {
        now.unix_timestamp().rem_euclid(self.window)
    }

    fn refusal(&self, counts: Counts, now: OffsetDateTime) -> ApiError {
        ApiError::RateLimited {
            detail: "too many attempts; wait before trying again".into(),
            retry_after: retry_after(self.max, counts, self.elapsed(now), self.window),
        }
    }
}

fn account(email: &str) -> String {
    crypto::sha256_base64url(email.as_bytes())
}

fn address(source_ip: Option<&str>) -> String {
    source_ip.unwrap_or("unknown").to_string()
}

/// Hits counted in the current and the previous window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    current: u32,
    previous: u32,
}

/// How many hits the current window may hold, `elapsed` seconds into it, when the previous
/// window held `previous`: the previous window still weighs by the part of it the sliding window
/// covers (rounded up, so the estimate never undercounts).
fn window_cap(max: u32, previous: u32, elapsed: i64, window: i64) -> u32 {
    let still_covered = (window - elapsed) as u64 * u64::from(previous);
    let weighed = still_covered.div_ceil(window as u64);
    max.saturating_sub(weighed.min(u64::from(u32::MAX)) as u32)
}

/// Seconds until one more attempt passes, if none is made meanwhile.
fn retry_after(max: u32, counts: Counts, elapsed: i64, window: i64) -> u64 {
    (1..=2 * window)
        .find(|&wait| {
            let at = elapsed + wait;
            if at < window {
                counts.current < window_cap(max, counts.previous, at, window)
            } else if at < 2 * window {
                0 < window_cap(max, counts.current, at - window, window)
            } else {
                true
            }
        })
        .unwrap_or(2 * window) as u64
}

fn count_of(item: Option<&Item>) -> u32 {
    item.and_then(|i| i.get("hits"))
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .map_or(0, |n| n.clamp(0, i64::from(u32::MAX)) as u32)
}

/// Counted attempts, to be given back if they turn out not to count (a right password).
#[derive(Debug)]
pub struct Attempt {
    counted: Vec<Key>,
    /// Per counter: this attempt took the last place its window had.
    filled: Vec<bool>,
    ttl: i64,
}

impl Attempt {
    /// Checks `counters` against the items read for their [`Counter::keys`] (in order, two per
    /// counter) and counts one attempt on each, conditioned on the allowance, in one transaction:
    /// concurrent attempts cannot all pass.
    pub async fn count(app: &App, counters: &[Counter], items: &[Option<Item>]) -> ApiResult<Self> {
        let now = app.now();
        let mut tx = Transaction::new();
        let mut counted = Vec::new();
        let mut filled = Vec::new();
        let mut ttl = 0;
        for (i, counter) in counters.iter().enumerate() {
            let counts = Counts {
                current: count_of(items.get(2 * i).and_then(Option::as_ref)),
                previous: count_of(items.get(2 * i + 1).and_then(Option::as_ref)),
            };
            let cap = counter.allowance(counts, now)?;
            let [key, _] = counter.keys(now);
            ttl = counter.expiry(now);
            let full = Counts {
                current: cap.max(counts.current),
                ..counts
            };
            tx.update(
                &key,
                Update::new("ADD hits :one SET #ttl = :ttl")
                    .name("#ttl", "ttl")
                    .value(":one", num(1))
                    .value(":ttl", num(ttl)),
                Some((
                    Condition::new("attribute_not_exists(hits) OR hits < :cap")
                        .value(":cap", num(cap)),
                    counter.refusal(full, now),
                )),
            )?;
            counted.push(key);
            filled.push(counts.current + 1 >= cap);
        }
        app.store.transact(tx).await?;
        Ok(Self {
            counted,
            filled,
            ttl,
        })
    }

    /// Whether this attempt took the last place the `i`th counter had: the next one is refused.
    pub fn filled(&self, i: usize) -> bool {
        self.filled.get(i).copied().unwrap_or(false)
    }

    /// Gives the counted attempts back within `tx` (the write the success makes anyway).
    pub fn give_back(&self, tx: &mut Transaction) -> ApiResult<()> {
        for key in &self.counted {
            tx.update(
                key,
                Update::new("ADD hits :minus SET #ttl = :ttl")
                    .name("#ttl", "ttl")
                    .value(":minus", num(-1))
                    .value(":ttl", num(self.ttl)),
                None,
            )?;
        }
        Ok(())
    }

    /// Gives the counted attempts back on their own.
    pub async fn give_back_now(&self, app: &App) -> ApiResult<()> {
        let mut tx = Transaction::new();
        self.give_back(&mut tx)?;
        app.store.transact(tx).await
    }
}

/// Refuses when a counter has no room left, read from the items of its [`Counter::keys`] (two per
/// counter, in order). For failures that are only counted after the fact (the client-credentials
/// grant, whose secrets are not guessable: the limit curbs volume, not guessing).
pub fn check(app: &App, counters: &[Counter], items: &[Option<Item>]) -> ApiResult<()> {
    let now = app.now();
    for (i, counter) in counters.iter().enumerate() {
        let counts = Counts {
            current: count_of(items.get(2 * i).and_then(Option::as_ref)),
            previous: count_of(items.get(2 * i + 1).and_then(Option::as_ref)),
        };
        counter.allowance(counts, now)?;
    }
    Ok(())
}

/// Counts one failure on each counter, unconditionally.
pub async fn count_failure(app: &App, counters: &[Counter]) -> ApiResult<()> {
    let now = app.now();
    let mut tx = Transaction::new();
    for counter in counters {
        let [key, _] = counter.keys(now);
        tx.update(
            &key,
            Update::new("ADD hits :one SET #ttl = :ttl")
                .name("#ttl", "ttl")
                .value(":one", num(1))
                .value(":ttl", num(counter.expiry(now))),
            None,
        )?;
    }
    app.store.transact(tx).await
}

/// Clears every sign-in counter of the account `email` signs in to (its ceiling, its counts per
/// address, its password checks): what a completed password reset does. Only the two windows a
/// check weighs are read, however many older items wait for their TTL.
pub async fn clear_account(app: &App, email: &str) -> ApiResult<()> {
    let counter = Counter::sign_in_account(&app.config.limits, email);
    let window = counter.window_of(app.now());
    let counted = app
        .store
        .query_all(Query::new(
            None,
            rate_partition(counter.door, &counter.subject),
            SortRange::Between(rate_window(window - 1), format!("{}~", rate_window(window))),
        ))
        .await?;
    let keys = counted.iter().map(key_of).collect::<ApiResult<Vec<_>>>()?;
    app.store.delete_many(&keys).await
}

/// Counts one attempt at a public door from the caller's address (two requests: the counters'
/// read and the conditional increment).
pub async fn count_attempt(app: &App, counter: Counter) -> ApiResult<()> {
    let items = app.store.get_many(&counter.keys(app.now())).await?;
    Attempt::count(app, &[counter], &items).await.map(|_| ())
}

// Texts cost money and can be looped for toll fraud, so each is counted first against the
// tenant's daily budget and the number's daily cap across tenants, and each invitation may text
// only so often (SPEC.md §9.1).

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
    use std::collections::HashSet;
    use time::macros::datetime;

    const W: i64 = 900;

    #[test]
    fn the_previous_window_weighs_by_what_the_sliding_window_still_covers() {
        assert_eq!(window_cap(10, 0, 0, W), 10);
        assert_eq!(window_cap(10, 10, 0, W), 0);
        assert_eq!(window_cap(10, 10, 450, W), 5);
        // Rounded up: one second into the window all ten still weigh.
        assert_eq!(window_cap(10, 10, 1, W), 0);
        assert_eq!(window_cap(10, 10, 90, W), 1);
        assert_eq!(window_cap(10, 100, 0, W), 0);
    }

    #[test]
    fn retry_after_is_when_the_next_attempt_passes() {
        // Ten failures at the very start of a window: refused until the window has slid past
        // enough of them.
        let counts = Counts {
            current: 10,
            previous: 0,
        };
        let wait = retry_after(10, counts, 0, W);
        assert_eq!(wait, W as u64 + 90);
        let at = wait as i64 - W;
        assert!(0 < window_cap(10, 10, at, W));
        assert_eq!(window_cap(10, 10, at - 1, W), 0);
        // Still inside the window, with room once the previous window weighs less.
        let counts = Counts {
            current: 5,
            previous: 10,
        };
        let wait = retry_after(10, counts, 0, W);
        assert!(counts.current < window_cap(10, 10, wait as i64, W));
        assert!(counts.current >= window_cap(10, 10, wait as i64 - 1, W));
    }

    #[test]
    fn a_counter_refuses_at_its_maximum() {
        let limits = Limits::default();
        let counter = Counter::sign_in_account_address(&limits, "a@b.test", Some("192.0.2.1"));
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let counts = |current| Counts {
            current,
            previous: 0,
        };
        assert_eq!(counter.allowance(counts(9), now).unwrap(), 10);
        let refusal = counter.allowance(counts(10), now).unwrap_err();
        assert!(matches!(refusal, ApiError::RateLimited { retry_after, .. } if retry_after > 0));
    }

    #[test]
    fn accounts_are_counted_by_hash_and_addresses_as_given() {
        let limits = Limits::default();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let [key, previous] = Counter::sign_in_account(&limits, "a@b.test").keys(now);
        assert!(!key.pk.contains("a@b.test"));
        assert_ne!(key, previous);
        let [key, _] = Counter::sign_in_address(&limits, Some("192.0.2.1")).keys(now);
        assert!(key.pk.contains("192.0.2.1"));
    }

    #[test]
    fn an_accounts_counters_share_its_partition_and_sort_by_window() {
        let limits = Limits::default();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let [ceiling, previous] = Counter::sign_in_account(&limits, "a@b.test").keys(now);
        let [from_one, _] =
            Counter::sign_in_account_address(&limits, "a@b.test", Some("192.0.2.1")).keys(now);
        let [from_another, _] =
            Counter::sign_in_account_address(&limits, "a@b.test", Some("192.0.2.2")).keys(now);
        let [checks, _] = Counter::current_password(&limits, "a@b.test").keys(now);
        let [other, _] = Counter::sign_in_account(&limits, "c@d.test").keys(now);
        for key in [&previous, &from_one, &from_another, &checks] {
            assert_eq!(key.pk, ceiling.pk);
        }
        assert_ne!(other.pk, ceiling.pk);
        let keys = [&ceiling, &from_one, &from_another, &checks];
        assert_eq!(keys.iter().map(|k| &k.sk).collect::<HashSet<_>>().len(), 4);
        // What clear_account reads: the previous window and every part of the current one.
        let window = ceiling.sk.clone();
        for key in keys {
            assert!(
                previous.sk < key.sk && key.sk < format!("{window}~"),
                "{key:?}"
            );
        }
    }

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
