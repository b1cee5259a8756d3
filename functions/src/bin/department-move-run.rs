//! Worker (the table's stream, queued department moves; scheduled, a sweep for moves whose runs
//! died): rewrites a moved subtree's departments and members' tree keys in chunks.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    roster_functions::jobs::serve(&roster_functions::registry::DEPARTMENT_MOVE_RUN).await
}
