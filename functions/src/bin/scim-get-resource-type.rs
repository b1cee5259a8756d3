//! GET /scim/v2/{tenant_id}/ResourceTypes/{resource_type}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::SCIM_GET_RESOURCE_TYPE).await
}
