//! GET /scim/v2/{tenant_id}/ResourceTypes/{resource_type}
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::run(roster_functions::handlers::scim::get_resource_type).await
}
