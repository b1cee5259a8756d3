//! DELETE /v1/tenants/{tenant_id}/api-clients/{client_id}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::DELETE_API_CLIENT).await
}
