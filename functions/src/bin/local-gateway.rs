//! The local stack's entry point (not deployed).
//!
//! - `local-gateway keygen`: prints a new Ed25519 signing key as ROSTER_JWT_* variables.
//! - `local-gateway rotate-key [--revoke-previous]`: rotates the signing key in Secrets Manager
//!   (the emulator, or AWS with credentials) by the same four steps as the `rotate-signing-key`
//!   function; the key that signed until then stays published for an hour, or, with
//!   `--revoke-previous`, is retired at once (tokens it signed answer 401).
//! - `local-gateway bootstrap-admin`: makes ROSTER_BOOTSTRAP_EMAIL a platform admin with
//!   ROSTER_BOOTSTRAP_PASSWORD (against the emulator or, with AWS credentials, a real table).
//! - `local-gateway check [--repair]`: runs the consistency checker on ROSTER_TABLE (the emulator,
//!   or AWS with credentials) and prints its report as one JSON line; `--repair` fixes what it
//!   can first. Exits 1 while any finding is left.
//! - `local-gateway serve [--setup]`: serves every route on ROSTER_GATEWAY_ADDR (default
//!   127.0.0.1:8080); `--setup` first creates the table, bucket, sender identity, signing-key
//!   secrets (with a first key), the sealing secret (ROSTER_SEALING_SECRET) and the bootstrap
//!   admin in the emulator.

use roster_shared::{App, consistency, setup, signing_keys, tokens};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("keygen") => {
            let key = tokens::generate_key()?;
            println!("ROSTER_JWT_PRIVATE_KEY={}", key.private_pkcs8_base64);
            println!("ROSTER_JWT_PUBLIC_KEY={}", key.public_x);
            Ok(())
        }
        Some("rotate-key") => {
            let app = App::from_env().await?;
            let kid = signing_keys::rotate(&app).await?;
            println!("signing key rotated: tokens are now signed with kid {kid}");
            if args.iter().any(|a| a == "--revoke-previous") {
                signing_keys::revoke_previous(&app).await?;
                println!("the previous signing key is retired: tokens it signed answer 401");
            }
            Ok(())
        }
        Some("bootstrap-admin") => {
            let app = App::from_env().await?;
            let (email, password) = bootstrap_credentials()?;
            setup::bootstrap_admin(&app, &email, &password).await?;
            println!("platform admin ready: {email}");
            Ok(())
        }
        Some("check") => {
            let app = App::from_env().await?;
            let report = if args.iter().any(|a| a == "--repair") {
                consistency::repair(&app).await?
            } else {
                consistency::check(&app).await?
            };
            for finding in &report.findings {
                eprintln!(
                    "{} {} / {}: {}",
                    finding.rule, finding.pk, finding.sk, finding.detail
                );
            }
            println!("{}", serde_json::to_string(&report)?);
            if !report.is_clean() {
                std::process::exit(1);
            }
            Ok(())
        }
        Some("serve") => serve(args.iter().any(|a| a == "--setup")).await,
        _ => {
            eprintln!(
                "usage: local-gateway keygen | rotate-key [--revoke-previous] | bootstrap-admin | check [--repair] | serve [--setup]"
            );
            std::process::exit(2);
        }
    }
}

fn bootstrap_credentials() -> Result<(String, String), Box<dyn std::error::Error + Send + Sync>> {
    let email =
        std::env::var("ROSTER_BOOTSTRAP_EMAIL").map_err(|_| "ROSTER_BOOTSTRAP_EMAIL is not set")?;
    let password = std::env::var("ROSTER_BOOTSTRAP_PASSWORD")
        .map_err(|_| "ROSTER_BOOTSTRAP_PASSWORD is not set")?;
    Ok((email, password))
}

async fn serve(with_setup: bool) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    roster_shared::init_tracing();
    let app: &'static App = Box::leak(Box::new(App::from_env().await?));
    let addr = std::env::var("ROSTER_GATEWAY_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(&addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    if with_setup {
        setup::create_table(app).await?;
        setup::create_bucket_and_sender(app).await?;
        signing_keys::create_secrets(app).await?;
        app.sealing.ensure_created().await?;
        let (email, password) = bootstrap_credentials()?;
        setup::bootstrap_admin(app, &email, &password).await?;
        println!("Roster is running at {url}");
        println!("  bootstrap platform admin: {email}");
        println!("  password:                 {password}");
        println!(
            "  try: curl -s {url}/v1/auth/login -H 'content-type: application/json' \\\n         -d '{{\"email\":\"{email}\",\"password\":\"{password}\"}}'"
        );
    } else {
        println!("Roster is running at {url}");
    }
    // Locally nothing delivers the table's stream, bucket notifications or schedules: the local
    // stack plays them.
    tokio::spawn(
        roster_functions::local_stack::LocalStack::connect(app)
            .await?
            .run(),
    );
    tokio::select! {
        result = roster_functions::gateway::serve(app, listener) => Ok(result?),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
