//! GET /scim/v2/{tenant_id}/Users
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::SCIM_LIST_USERS).await
}
