//! Worker (bucket notifications of uploads, the table's stream for started imports): imports the
//! file's rows.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::IMPORT_RUN).await
}
