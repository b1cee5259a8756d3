//! GET /v1/join/number/{number}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::run(roster_functions::handlers::joining::preview_number).await
}
