//! PUT /v1/tenants/{tenant_id}/members/{member_id}/licence
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::lambda::serve(&roster_functions::registry::SET_MEMBER_LICENCE).await
}
