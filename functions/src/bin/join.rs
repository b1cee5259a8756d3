//! POST /v1/join/{code}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::run(roster_functions::handlers::joining::join).await
}
