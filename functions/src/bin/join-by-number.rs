//! POST /v1/join/number/{number}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::JOIN_BY_NUMBER).await
}
