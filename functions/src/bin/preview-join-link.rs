//! GET /v1/join/{code}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::PREVIEW_JOIN_LINK).await
}
