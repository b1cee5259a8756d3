//! Secrets Manager rotation of the signing-key secret: one of the four steps per invocation.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::ROTATE_SIGNING_KEY).await
}
