//! The keys that sign access tokens, kept in AWS Secrets Manager, and their rotation.
//!
//! Two secrets:
//! - the **signing-key secret**: one version per Ed25519 private key (`{"private_key": "<base64
//!   PKCS#8>"}`), staged `AWSCURRENT` (signs new tokens), `AWSPENDING` (made by a rotation in
//!   progress) and `AWSPREVIOUS` (signed tokens that may still be alive). Only the functions that
//!   issue tokens may read it, and only its `AWSCURRENT` version; the rotation function keeps it.
//! - the **public-key secret**: one JSON document, the public halves of those versions with their
//!   stages ([`PublicKeySet`]). Every function reads it to verify tokens; the JWKS publishes it.
//!
//! Why a second secret: Secrets Manager has no public part of a secret, so a verifier allowed to
//! read the signing-key secret's versions would hold every private key. Why a secret and not an
//! SSM parameter: one SDK and one IAM model for both, and the document is small and rarely written.
//!
//! Rotation is Secrets Manager's four steps, each idempotent under one ClientRequestToken:
//! `createSecret` puts a new key as `AWSPENDING`; `setSecret` publishes its public half beside the
//! current and previous ones, so verifiers can know it before any token carries it; `testSecret`
//! checks that the pending key signs what the published set verifies; `finishSecret` makes it
//! `AWSCURRENT` (Secrets Manager moves `AWSPREVIOUS` to the old key, which stays published, so
//! tokens it signed keep verifying) and republishes the set.
//!
//! The previous key is published for [`RETIRED_KEY_SECONDS`] after it stopped signing (the set
//! records when, and verifiers and the JWKS leave it out after that); an operator retires it at
//! once by removing its `AWSPREVIOUS` label ([`revoke_previous`], `RevokePrevious` in the
//! rotation function's input). Entry points: [`rotation`].

pub(crate) mod keys;
mod rotation;
pub(crate) mod secrets;
pub use keys::{KeyStage, PublicKey, PublicKeySet, PublishedKey, RETIRED_KEY_SECONDS, SigningKey};
pub use rotation::{RotationEvent, create_secrets, handle_rotation, revoke_previous, rotate};
pub use secrets::{CURRENT, KeySecrets, NO_KEY_YET, PENDING, PREVIOUS, RotationStep, StepReport};
