//! The result file: every finished row with its outcome and reason, in row order, and the
//! counts it adds up to.

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::jobs::export::escape_formula;
use crate::jobs::{Job, JobCounts};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What happened to one row, kept as its marker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RowOutcome {
    pub row: usize,
    pub email: String,
    /// created, invited or failed
    pub outcome: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub ttl: i64,
}

/// A refused row's reason, as the result file gives it.
pub(super) fn reason_of(err: &ApiError) -> String {
    match err {
        ApiError::Validation(fields) => fields
            .iter()
            .map(|f| format!("{} {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => format!("{}: {other}", other.code()),
    }
}

/// The result CSV (with a BOM) of `total` rows, of which `done` are finished, and its counts.
pub(super) fn result_file(
    total: usize,
    done: &HashMap<usize, RowOutcome>,
) -> ApiResult<(JobCounts, Vec<u8>)> {
    let mut counts = JobCounts {
        total: total as u64,
        ..JobCounts::default()
    };
    let mut result = csv::Writer::from_writer(Vec::new());
    let write =
        |w: &mut csv::Writer<Vec<u8>>, r: &[String]| w.write_record(r).map_err(ApiError::internal);
    write(
        &mut result,
        &[
            "row".into(),
            "email".into(),
            "outcome".into(),
            "reason".into(),
        ],
    )?;
    let mut numbers: Vec<&usize> = done.keys().collect();
    numbers.sort();
    for n in numbers {
        let o = &done[n];
        if o.outcome == "failed" {
            counts.failed += 1;
        } else {
            counts.succeeded += 1;
        }
        write(
            &mut result,
            &[
                o.row.to_string(),
                escape_formula(&o.email),
                o.outcome.clone(),
                escape_formula(o.reason.as_deref().unwrap_or("")),
            ],
        )?;
    }
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(result.into_inner().map_err(ApiError::internal)?);
    Ok((counts, bytes))
}

/// Stores the result file beside the job's upload; its key.
pub(super) async fn upload_result(app: &App, job: &Job, bytes: Vec<u8>) -> ApiResult<String> {
    let key = format!("{}result.csv", job.file_prefix());
    app.s3()
        .put_object()
        .bucket(&app.config.bucket)
        .key(&key)
        .content_type("text/csv; charset=utf-8")
        .body(bytes.into())
        .send()
        .await
        .map_err(crate::store::sdk_error)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(row: usize, email: &str, outcome: &str, reason: Option<&str>) -> RowOutcome {
        RowOutcome {
            row,
            email: email.into(),
            outcome: outcome.into(),
            reason: reason.map(str::to_string),
            ttl: 0,
        }
    }

    #[test]
    fn the_result_lists_finished_rows_in_order_and_counts_them() {
        let done = HashMap::from([
            (3, outcome(3, "=b@x.test", "failed", Some("-bad"))),
            (2, outcome(2, "a@x.test", "created", None)),
        ]);
        let (counts, bytes) = result_file(4, &done).unwrap();
        assert_eq!((counts.total, counts.succeeded, counts.failed), (4, 1, 1));
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "\u{feff}row,email,outcome,reason\n2,a@x.test,created,\n3,'=b@x.test,failed,'-bad\n"
        );
    }
}
