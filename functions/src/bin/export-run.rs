//! Worker (the table's stream, new export jobs): writes the export file to S3.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::EXPORT_RUN).await
}
