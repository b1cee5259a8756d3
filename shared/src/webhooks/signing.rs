//! Signing deliveries as the Standard Webhooks specification says: the headers `webhook-id` (the
//! event's id, which receivers dedupe by), `webhook-timestamp` (Unix seconds) and
//! `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the
//! endpoint's secret, one such signature per live secret, space-separated (a rotated-out secret
//! keeps signing for 24 hours beside the new one).

use crate::crypto;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// What every secret starts with, so people and secret scanners recognise it.
const PREFIX: &str = "whsec_";

/// A fresh secret: `whsec_` and 24 random bytes in base64 (the key is those bytes).
pub fn new_secret() -> String {
    format!("{PREFIX}{}", STANDARD.encode(crypto::random_bytes::<24>()))
}

/// The key of a secret: the bytes its base64 part decodes to; None for a secret not of this form.
fn key_of(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix(PREFIX)?).ok()
}

/// The `webhook-signature` header of `body` sent as message `id` at `timestamp`, signed with each
/// of `secrets`.
pub fn signature(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = Vec::with_capacity(id.len() + body.len() + 24);
    signed.extend_from_slice(format!("{id}.{timestamp}.").as_bytes());
    signed.extend_from_slice(body);
    secrets
        .iter()
        .filter_map(|secret| key_of(secret))
        .map(|key| {
            let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &signed);
            format!("v1,{}", STANDARD.encode(tag.as_ref()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (and of the libraries that implement it).
    #[test]
    fn signs_the_specifications_example() {
        let signed = signature(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn every_live_secret_signs_and_any_change_changes_the_signature() {
        let (old, new) = (new_secret(), new_secret());
        assert!(old.starts_with("whsec_") && old != new);
        let both = signature(&[&old, &new], "evt", 1, b"{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], signature(&[&old], "evt", 1, b"{}"));
        assert_ne!(signature(&[&old], "evt", 1, b"{ }"), parts[0]);
        assert_ne!(signature(&[&old], "evt", 2, b"{}"), parts[0]);
        assert_ne!(signature(&[&old], "evu", 1, b"{}"), parts[0]);
    }
}
