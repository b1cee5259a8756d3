//! Worker (the table's stream, new items of the event logs: the tenants' and the platform's own):
//! puts each event on the deployment's EventBridge bus, RosterEvents.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::EVENT_BUS).await
}
