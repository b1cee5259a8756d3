//! Randomness, hashing and password hashing. One-time tokens are 256 random bits and stored only
//! as their SHA-256; passwords are argon2id.

use crate::error::{ApiError, ApiResult};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The system RNG failing is not a state a server can continue from.
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random number generator failed");
    bytes
}

/// Whether two secrets are equal, in a time that does not tell how much of them matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn random_u32() -> u32 {
    u32::from_le_bytes(random_bytes::<4>())
}

/// A new one-time token for a link: 256 random bits, URL-safe.
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// What is stored of a token: its SHA-256, hex. Tokens carry 256 random bits, so a fast hash is
/// enough: nothing can be guessed from it.
pub fn token_hash(token: &str) -> String {
    let digest = digest::digest(&digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, bytes).as_ref())
}

fn argon2() -> Argon2<'static> {
    // argon2id, OWASP's second recommended setting: m = 19 MiB, t = 2, p = 1.
    Argon2::default()
}

pub fn hash_password(password: &str) -> ApiResult<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(ApiError::internal)?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

/// What an account without a password verifies against: a hash with the same parameters as
/// every stored one (so the answer takes as long either way), written out rather than computed
/// at first use, which would make a container's first unknown-address sign-in cost two hashes.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$cm9zdGVyLWR1bW15LXNsdA$J9sY8WEI2wA5bas8pcydrwSz8dBtPLm1GgedQTiv+n4";

/// Verifies a password against a stored hash. Without a hash (unknown user, or a user who has not
/// set a password yet) it verifies against a dummy hash so the answer takes as long either way.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (DUMMY_HASH, false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong horse battery", Some(&hash)));
        assert!(!verify_password("roster-dummy-password", None));
    }

    #[test]
    fn tokens_are_long_and_hashed_deterministically() {
        let token = new_token();
        assert_eq!(token.len(), 43);
        assert_ne!(token, new_token());
        assert_eq!(token_hash(&token), token_hash(&token));
        assert_eq!(token_hash(&token).len(), 64);
    }

    #[test]
    fn the_dummy_hash_costs_what_a_stored_one_does() {
        let stored = hash_password("anything").expect("hash");
        let params = |h: &str| h.split('$').nth(3).map(str::to_string);
        assert_eq!(params(DUMMY_HASH), params(&stored));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("roster-dummy-password", None));
    }
}
