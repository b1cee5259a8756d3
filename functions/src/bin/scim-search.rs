//! POST /scim/v2/{tenant_id}/.search
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::run(roster_functions::handlers::scim::search).await
}
