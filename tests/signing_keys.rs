//! Signing keys in Secrets Manager and their rotation (shared/src/signing_keys.rs), as clients see
//! them: tokens name their key, the JWKS publishes the current and the previous key (for an hour
//! after it stops signing, or until it is revoked), a rotation fails no request, unknown key ids cost at most one re-read of the keys per window, rotation
//! steps are idempotent, and no private key reaches an answer or a log line.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use roster_functions::registry::{Access, JOBS, OPERATIONS, Trigger};

/// The functions Secrets Manager invokes to rotate a secret.
fn rotations() -> Vec<&'static str> {
    JOBS.iter()
        .filter(|j| j.has(|t| *t == Trigger::Rotation))
        .map(|j| j.name)
        .collect()
}
use roster_shared::app::Clock;
use roster_shared::signing_keys::{self, RETIRED_KEY_SECONDS, StepReport};
use roster_shared::tokens::{
    Claims, Grant, JWKS_CACHE_SECONDS, KEY_CACHE_SECONDS, TokenKeys, UNKNOWN_KID_REREAD_SECONDS,
    generate_key,
};
use roster_tests::{Answer, Env, unique};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, OnceLock};
use time::OffsetDateTime;

fn payload(token: &str, part: usize) -> Value {
    let text = token.split('.').nth(part).expect("a JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).expect("base64url")).expect("JSON")
}

fn kid_of(token: &str) -> String {
    payload(token, 0)["kid"].as_str().expect("kid").to_string()
}

fn claims_of(token: &str) -> Claims {
    serde_json::from_value(payload(token, 1)).expect("claims")
}

async fn jwks_kids(env: &Env, base: &str) -> Vec<String> {
    let response = env
        .http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks");
    Env::answer(response).await.ok(200)["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_string())
        .collect()
}

/// `GET /v1/me` on the gateway at `base`.
async fn me(env: &Env, base: &str, token: &str) -> Answer {
    let response = env
        .http
        .get(format!("{base}/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("me");
    Env::answer(response).await
}

/// The platform admin signs in on the gateway at `base`.
async fn admin_login(env: &Env, base: &str) -> String {
    let response = env
        .http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": env.admin_email, "password": env.admin_password}))
        .send()
        .await
        .expect("login");
    Env::answer(response).await.ok(200)["access_token"]
        .as_str()
        .expect("token")
        .to_string()
}

fn secret_reads(env: &Env) -> u64 {
    env.secret_requests
        .by_operation()
        .get("GetSecretValue")
        .copied()
        .unwrap_or(0)
}

fn secret_writes(env: &Env) -> u64 {
    let ops = env.secret_requests.by_operation();
    ["PutSecretValue", "UpdateSecretVersionStage", "CreateSecret"]
        .iter()
        .map(|op| ops.get(*op).copied().unwrap_or(0))
        .sum()
}

#[tokio::test]
async fn a_rotation_fails_no_request() {
    let clock = Clock::manual(OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Keys Corp").await;
    let first = kid_of(&t.owner_token);
    assert_eq!(jwks_kids(&env, &env.base).await, vec![first.clone()]);
    // This container now holds the key set as it is before the rotation.
    me(&env, &env.base, &t.owner_token).await.ok(200);

    let second = signing_keys::rotate(env.app).await.expect("rotation");
    assert_ne!(second, first);

    // A container started after the rotation signs with the new key, and still takes tokens of
    // the previous one.
    let fresh = env.another_container().await;
    let by_second = admin_login(&env, &fresh).await;
    assert_eq!(kid_of(&by_second), second);
    me(&env, &fresh, &t.owner_token).await.ok(200);

    // The first container learns the new key on first sight, with one read.
    env.secret_requests.reset();
    me(&env, &env.base, &by_second).await.ok(200);
    assert_eq!(secret_reads(&env), 1);
    me(&env, &env.base, &t.owner_token).await.ok(200);
    assert_eq!(secret_reads(&env), 1, "a known kid needs no read");
    clock.advance(JWKS_CACHE_SECONDS);
    assert_eq!(
        jwks_kids(&env, &env.base).await,
        vec![second.clone(), first.clone()]
    );

    // Its issuer keeps the key it read (still published) until its cache ages out.
    let cached = admin_login(&env, &env.base).await;
    assert_eq!(kid_of(&cached), first);
    me(&env, &fresh, &cached).await.ok(200);
    clock.advance(KEY_CACHE_SECONDS);
    let refreshed = admin_login(&env, &env.base).await;
    assert_eq!(kid_of(&refreshed), second);

    // The next rotation retires the first key: what it signs is refused everywhere it is not
    // cached, while tokens of the second key still pass.
    let third = signing_keys::rotate(env.app).await.expect("rotation");
    clock.advance(JWKS_CACHE_SECONDS);
    assert_eq!(
        jwks_kids(&env, &env.base).await,
        vec![third.clone(), second.clone()]
    );
    let later = env.another_container().await;
    let retired = TokenKeys::from_private(&env.private_key)
        .expect("first key")
        .issue(
            clock.now(),
            &Grant::renewing(&claims_of(&refreshed), None).expect("a platform grant"),
        )
        .await
        .expect("token");
    assert_eq!(kid_of(&retired), first);
    me(&env, &later, &retired)
        .await
        .problem(401, "unauthorized");
    me(&env, &later, &refreshed).await.ok(200);
    assert_eq!(kid_of(&admin_login(&env, &later).await), third);
}

/// A token signed now by the first signing key of `env` (its key before any rotation), with the
/// claims of a genuine `token`.
async fn by_first_key(env: &Env, token: &str) -> String {
    TokenKeys::from_private(&env.private_key)
        .expect("first key")
        .issue(
            env.app.now(),
            &Grant::renewing(&claims_of(token), None).expect("a grant without a tenant"),
        )
        .await
        .expect("token")
}

#[tokio::test]
async fn a_key_is_published_for_an_hour_after_it_stops_signing() {
    let clock = Clock::manual(OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Hour Corp").await;
    let first = kid_of(&t.owner_token);
    let second = signing_keys::rotate(env.app).await.expect("rotation");
    // This container learns the new key (and when the first one stopped signing).
    let by_second = admin_login(&env, &env.another_container().await).await;
    me(&env, &env.base, &by_second).await.ok(200);

    clock.advance(RETIRED_KEY_SECONDS - 1);
    let fresh = env.another_container().await;
    for base in [env.base.as_str(), fresh.as_str()] {
        assert_eq!(
            jwks_kids(&env, base).await,
            vec![second.clone(), first.clone()]
        );
        let token = by_first_key(&env, &by_second).await;
        me(&env, base, &token).await.ok(200);
    }
    // Issuers signed with the new key long before: a token of the first key is at most a
    // quarter of an hour old by now, and the last ones expire within the hour.
    assert_eq!(kid_of(&admin_login(&env, &env.base).await), second);

    clock.advance(1);
    let later = env.another_container().await;
    for base in [env.base.as_str(), fresh.as_str(), later.as_str()] {
        assert_eq!(jwks_kids(&env, base).await, vec![second.clone()], "{base}");
        let token = by_first_key(&env, &by_second).await;
        me(&env, base, &token).await.problem(401, "unauthorized");
        me(&env, base, &admin_login(&env, base).await).await.ok(200);
    }
}

#[tokio::test]
async fn revoking_the_previous_key_retires_it_at_once() {
    let clock = Clock::manual(OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Revoke Corp").await;
    let first = kid_of(&t.owner_token);
    let second = signing_keys::rotate(env.app).await.expect("rotation");
    me(&env, &env.base, &t.owner_token).await.ok(200);
    // A container that read the keys after the rotation, the first one still published.
    let warm = env.another_container().await;
    let by_second = admin_login(&env, &warm).await;
    me(&env, &warm, &t.owner_token).await.ok(200);

    // The rotation function's input, as an operator sends it after a rotation.
    let event = json!({"SecretId": env.signing_key_secret, "RevokePrevious": true});
    let report = signing_keys::handle_rotation(env.app, event)
        .await
        .expect("revocation");
    assert!(report.changed);
    assert_eq!(report.kid, second);
    assert_eq!(jwks_kids(&env, &env.base).await, vec![second.clone()]);
    me(&env, &env.base, &t.owner_token)
        .await
        .problem(401, "unauthorized");
    let fresh = env.another_container().await;
    assert_eq!(jwks_kids(&env, &fresh).await, vec![second.clone()]);
    me(&env, &fresh, &t.owner_token)
        .await
        .problem(401, "unauthorized");
    // The warm container re-reads the keys for a token of a key that no longer signs, at most
    // once per window: within seconds it refuses it too.
    clock.advance(UNKNOWN_KID_REREAD_SECONDS);
    me(&env, &warm, &t.owner_token)
        .await
        .problem(401, "unauthorized");
    me(&env, &warm, &by_second).await.ok(200);
    // Revoking again changes nothing; a later rotation does not bring the key back.
    let again = signing_keys::handle_rotation(
        env.app,
        json!({"SecretId": env.signing_key_secret, "RevokePrevious": true}),
    )
    .await
    .expect("revocation");
    assert!(!again.changed);
    assert_ne!(first, second);

    // `local-gateway rotate-key --revoke-previous`: the rotation, then the revocation.
    let third = signing_keys::rotate(env.app).await.expect("rotation");
    assert!(
        signing_keys::revoke_previous(env.app)
            .await
            .expect("revocation")
    );
    assert_eq!(jwks_kids(&env, &env.base).await, vec![third.clone()]);
    me(&env, &env.base, &by_second)
        .await
        .problem(401, "unauthorized");

    // And a rotation whose last step carries the input.
    let token = uuid::Uuid::now_v7().to_string();
    for name in ["createSecret", "setSecret", "testSecret"] {
        step(&env, &token, name).await.expect(name);
    }
    let event = json!({"SecretId": env.signing_key_secret, "ClientRequestToken": token,
                       "Step": "finishSecret", "RevokePrevious": true});
    let fourth = signing_keys::handle_rotation(env.app, event)
        .await
        .expect("finish");
    assert_eq!(jwks_kids(&env, &env.base).await, vec![fourth.kid.clone()]);
    let by_fourth = admin_login(&env, &env.base).await;
    assert_eq!(kid_of(&by_fourth), fourth.kid);
    me(&env, &env.base, &by_fourth).await.ok(200);
}

/// A token signed by a stranger's key under `kid`, with the claims of a genuine `token`.
fn forged(token: &str, kid: &str) -> String {
    let stranger = STANDARD
        .decode(generate_key().expect("key").private_pkcs8_base64)
        .expect("der");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(
        &header,
        &claims_of(token),
        &EncodingKey::from_ed_der(&stranger),
    )
    .expect("forged")
}

#[tokio::test]
async fn unknown_key_ids_are_refused_with_one_reread_per_window() {
    let clock = Clock::manual(OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Forgery Corp").await;
    me(&env, &env.base, &t.owner_token).await.ok(200);

    env.secret_requests.reset();
    for _ in 0..5 {
        me(&env, &env.base, &forged(&t.owner_token, &unique("kid")))
            .await
            .problem(401, "unauthorized");
    }
    assert_eq!(secret_reads(&env), 1, "one re-read for a flood of kids");
    // A stranger's signature under the real kid is refused without any read.
    me(
        &env,
        &env.base,
        &forged(&t.owner_token, &kid_of(&t.owner_token)),
    )
    .await
    .problem(401, "unauthorized");
    assert_eq!(secret_reads(&env), 1);

    clock.advance(UNKNOWN_KID_REREAD_SECONDS);
    for _ in 0..3 {
        me(&env, &env.base, &forged(&t.owner_token, &unique("kid")))
            .await
            .problem(401, "unauthorized");
    }
    assert_eq!(secret_reads(&env), 2, "one more in the next window");
    me(&env, &env.base, &t.owner_token).await.ok(200);
    assert_eq!(secret_reads(&env), 2);
}

async fn step(env: &Env, token: &str, name: &str) -> roster_shared::ApiResult<StepReport> {
    let event =
        json!({"SecretId": env.signing_key_secret, "ClientRequestToken": token, "Step": name});
    signing_keys::handle_rotation(env.app, event).await
}

#[tokio::test]
async fn rotation_steps_are_idempotent() {
    let env = Env::start().await;
    let first = kid_of(&env.admin_token().await);
    let token = uuid::Uuid::now_v7().to_string();
    let mut new_kid = String::new();
    for name in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let done = step(&env, &token, name).await.expect(name);
        assert_eq!(done.changed, name != "testSecret", "{name}");
        env.secret_requests.reset();
        let again = step(&env, &token, name).await.expect(name);
        assert!(!again.changed, "{name} rerun");
        assert_eq!(secret_writes(&env), 0, "{name} rerun writes nothing");
        assert_eq!(again.kid, done.kid);
        new_kid = done.kid;
    }
    assert_ne!(new_kid, first);
    let fresh = env.another_container().await;
    assert_eq!(jwks_kids(&env, &fresh).await, vec![new_kid.clone(), first]);
    assert_eq!(kid_of(&admin_login(&env, &fresh).await), new_kid);

    // testSecret checks what verifiers will see: a key not yet published fails it.
    let unpublished = uuid::Uuid::now_v7().to_string();
    step(&env, &unpublished, "createSecret")
        .await
        .expect("create");
    assert!(step(&env, &unpublished, "testSecret").await.is_err());
    // A version no createSecret made cannot be set, tested or finished.
    let unknown = uuid::Uuid::now_v7().to_string();
    for name in ["setSecret", "testSecret", "finishSecret"] {
        assert!(step(&env, &unknown, name).await.is_err(), "{name}");
    }
    assert!(
        signing_keys::handle_rotation(env.app, json!({"Step": "createSecret"}))
            .await
            .is_err()
    );
    // The pending key is published by setSecret, beside the current one, before it signs.
    step(&env, &unpublished, "setSecret").await.expect("set");
    let pending = step(&env, &unpublished, "testSecret").await.expect("test");
    let later = env.another_container().await;
    let kids = jwks_kids(&env, &later).await;
    assert_eq!(kids.len(), 3, "current, pending, previous: {kids:?}");
    assert_eq!(kids[0], new_kid);
    assert_eq!(kids[1], pending.kid);
    assert_eq!(kid_of(&admin_login(&env, &later).await), new_kid);
}

/// Every log line of this test binary (JSON, every level).
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        // The assertion that the logs were captured fails if another subscriber came first.
        let _ = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || LogSink(sink.clone()))
            .try_init();
        logs
    })
    .clone()
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn private_keys_appear_in_no_answer_and_no_log_line() {
    let logs = captured_logs();
    let clock = Clock::manual(OffsetDateTime::now_utc());
    let env = Env::start_with(clock.clone()).await;
    let t = env.tenant_with_owner("Secret Corp").await;
    let mut answers = Vec::new();
    let token = uuid::Uuid::now_v7().to_string();
    for name in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let report = step(&env, &token, name).await.expect(name);
        answers.push(serde_json::to_string(&report).expect("report"));
    }
    clock.advance(KEY_CACHE_SECONDS);
    let fresh = env.another_container().await;
    for base in [env.base.as_str(), fresh.as_str()] {
        let response = env
            .http
            .get(format!("{base}/.well-known/jwks.json"))
            .send()
            .await
            .expect("jwks");
        answers.push(format!("{:?}", Env::answer(response).await));
        answers.push(admin_login(&env, base).await);
        answers.push(format!(
            "{:?}",
            me(&env, base, &forged(&t.owner_token, "k")).await
        ));
        answers.push(format!(
            "{:?}",
            env.post(
                "/v1/auth/login",
                None,
                json!({"email": t.owner_email, "password": "wrong-password"})
            )
            .await
        ));
    }
    answers.push(format!("{:?}", step(&env, "never-made", "setSecret").await));

    let current = env
        .app
        .keys
        .secrets()
        .expect("secrets")
        .current_signing_key()
        .await
        .expect("current key");
    let private_keys = [env.private_key.clone(), current.pkcs8_base64()];
    let logs = String::from_utf8(logs.lock().expect("logs").clone()).expect("UTF-8 logs");
    assert!(
        logs.contains("signing key rotation step") && logs.contains(current.kid()),
        "the logs were captured"
    );
    for private in &private_keys {
        let der = STANDARD.decode(private).expect("der");
        // The 32-byte seed: the OCTET STRING inside the PKCS#8 privateKey OCTET STRING.
        let at = der
            .windows(4)
            .position(|w| w == [0x04, 0x22, 0x04, 0x20])
            .expect("an Ed25519 PKCS#8 key")
            + 4;
        let seed = &der[at..at + 32];
        // The key as stored (base64), as base64url, and its seed in both encodings.
        let forms = [
            private.clone(),
            URL_SAFE_NO_PAD.encode(&der),
            URL_SAFE_NO_PAD.encode(seed),
            STANDARD.encode(seed),
        ];
        for form in &forms {
            let probe = &form[..40];
            assert!(!logs.contains(probe), "a private key in the logs");
            for answer in &answers {
                assert!(!answer.contains(probe), "a private key in {answer}");
            }
        }
    }
}

fn template() -> serde_yaml::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).expect("template")).expect("YAML")
}

fn yaml_text(value: &serde_yaml::Value) -> String {
    serde_yaml::to_string(value).expect("YAML")
}

/// Least privilege in template.yaml: only the functions that issue tokens read the signing key
/// (its current version only), the rotation function keeps both secrets, and every function
/// reads the public keys and nothing of the private ones.
#[test]
fn only_the_issuers_and_the_rotation_read_the_signing_key() {
    const ISSUERS: [&str; 5] = [
        "login",
        "refresh-session",
        "change-password",
        "confirm-email-change",
        "issue-client-token",
    ];
    let template = template();
    let globals = yaml_text(&template["Globals"]);
    assert!(globals.contains("ROSTER_PUBLIC_KEYS_SECRET: !Ref PublicSigningKeysSecret"));
    let whole = yaml_text(&template);
    assert!(!whole.contains("ROSTER_JWT_"), "no key in any environment");
    let mut functions = 0;
    let mut rotation_function = None;
    for (name, resource) in template["Resources"].as_mapping().expect("Resources") {
        let name = name.as_str().expect("name");
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        functions += 1;
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("binary");
        let environment = yaml_text(&resource["Properties"]["Environment"]);
        let policies = yaml_text(&resource["Properties"]["Policies"]);
        let issuer = ISSUERS.contains(&binary);
        let rotation = rotations().contains(&binary);
        assert_eq!(
            environment.contains("ROSTER_SIGNING_KEY_SECRET: !Ref SigningKeySecret"),
            issuer,
            "{binary}'s environment"
        );
        assert_eq!(
            policies.contains("SigningKeySecret"),
            issuer || rotation,
            "{binary}'s policies"
        );
        if issuer {
            assert!(
                policies.contains("secretsmanager:VersionStage: AWSCURRENT"),
                "{binary} reads the current key only"
            );
        }
        if rotation {
            rotation_function = Some(name.to_string());
            assert!(policies.contains("secretsmanager:UpdateSecretVersionStage"));
        } else {
            // Every function behind a route verifies tokens but SCIM's, which take the tenant's
            // SCIM token; a worker that takes none (the dead-letter function) needs no key at all.
            let verifies = OPERATIONS
                .iter()
                .any(|route| route.name == binary && route.access != Access::Scim);
            assert!(
                !verifies || policies.contains("!Ref ReadPublicSigningKeysPolicy"),
                "{binary} reads the public keys"
            );
            assert!(
                !policies.contains("secretsmanager:PutSecretValue"),
                "{binary} writes no key"
            );
        }
    }
    assert!(functions > ISSUERS.len());
    let rotation_function = rotation_function.expect("the rotation function");
    let schedules: Vec<String> = template["Resources"]
        .as_mapping()
        .expect("Resources")
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::SecretsManager::RotationSchedule"))
        .map(yaml_text)
        .collect();
    assert_eq!(schedules.len(), 1);
    assert!(schedules[0].contains(&format!("!GetAtt {rotation_function}.Arn")));
    assert!(schedules[0].contains("SecretId: !Ref SigningKeySecret"));
    // Its sample event is what Secrets Manager sends.
    for rotation in rotations() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../events/{rotation}.json"));
        let event: signing_keys::RotationEvent =
            serde_json::from_str(&std::fs::read_to_string(path).expect("event")).expect("event");
        assert!(!event.client_request_token.is_empty());
    }
}
