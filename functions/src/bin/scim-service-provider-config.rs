//! GET /scim/v2/{tenant_id}/ServiceProviderConfig
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::SCIM_SERVICE_PROVIDER_CONFIG).await
}
