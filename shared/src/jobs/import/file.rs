//! The uploaded file: checked once (presence, type, size, which object it is), then read as
//! exactly that object and parsed.

use crate::app::App;
use crate::error::{ApiError, ApiResult, Checks};
use crate::model::job::CheckedUpload;
use std::collections::HashMap;

/// The largest file an import takes.
pub const MAX_FILE_BYTES: i64 = 20 * 1024 * 1024;

/// The file's columns, in order.
pub const COLUMNS: [&str; 11] = [
    "email",
    "name",
    "department",
    "position",
    "work_number",
    "location",
    "phone",
    "directory_number",
    "role",
    "language",
    "password",
];
pub(super) const CONTENT_TYPE: &str = "text/csv";

/// The CSV template: the header and one example row.
pub fn template() -> String {
    let mut out = String::from('\u{feff}');
    out.push_str(&COLUMNS.join(","));
    out.push_str("\r\nada.lovelace@example.com,Ada Lovelace,Sales/EMEA,Engineer,E-1024,London,+44 20 7946 0000,100,member,en,\r\n");
    out
}

/// One row of the file, as read.
#[derive(Debug, Clone)]
pub(super) struct Row {
    /// 1-based, the header being row 1 (what a spreadsheet shows).
    pub number: usize,
    pub fields: HashMap<String, String>,
}

/// The uploaded file: present, CSV, within the size limit, with the required columns and at
/// least one row. Its rows and the object they were read from, or the reason it cannot be
/// imported. With `checked` (a check made earlier) exactly that object is read, or none.
pub(super) async fn read_file(
    app: &App,
    key: &str,
    checked: Option<&CheckedUpload>,
) -> ApiResult<(Vec<Row>, CheckedUpload)> {
    let checked = match checked {
        Some(checked) => checked.clone(),
        None => check_upload(app, key).await?,
    };
    let replaced = || {
        ApiError::invalid(
            "file",
            "was replaced or removed after it was checked; upload the new file to a new import",
        )
    };
    let object = app
        .s3()
        .get_object()
        .bucket(&app.config.bucket)
        .key(key)
        .if_match(&checked.etag)
        .set_version_id(checked.version_id.clone())
        .send()
        .await;
    let object = match object {
        Ok(object) => object,
        Err(err) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            return Err(match status {
                Some(404 | 412) => replaced(),
                _ => crate::store::sdk_error(err),
            });
        }
    };
    if object.content_length().unwrap_or(0) > checked.size {
        return Err(replaced());
    }
    // Never more than the checked size, whatever the response claims.
    let limit = usize::try_from(checked.size).unwrap_or(0);
    let mut body = object.body;
    let mut bytes = Vec::with_capacity(limit);
    while let Some(chunk) = body.try_next().await.map_err(ApiError::unavailable)? {
        if bytes.len() + chunk.len() > limit {
            return Err(replaced());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((parse(&bytes)?, checked))
}

/// Checks the uploaded object's presence, type and size (HeadObject) and notes which object it is.
async fn check_upload(app: &App, key: &str) -> ApiResult<CheckedUpload> {
    let head = app
        .s3()
        .head_object()
        .bucket(&app.config.bucket)
        .key(key)
        .send()
        .await;
    let head = match head {
        Ok(head) => head,
        Err(err)
            if err
                .raw_response()
                .is_some_and(|r| r.status().as_u16() == 404) =>
        {
            return Err(ApiError::invalid(
                "file",
                "has not been uploaded: PUT it to the upload_url first",
            ));
        }
        Err(err) => return Err(crate::store::sdk_error(err)),
    };
    let content_type = head.content_type().unwrap_or_default();
    if !content_type.starts_with(CONTENT_TYPE) {
        return Err(ApiError::invalid(
            "file",
            format!("must be uploaded as {CONTENT_TYPE}, not \"{content_type}\""),
        ));
    }
    let size = head.content_length().unwrap_or(0);
    if size > MAX_FILE_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_FILE_BYTES as usize));
    }
    let etag = head
        .e_tag()
        .ok_or_else(|| ApiError::internal("HeadObject answered no ETag"))?;
    Ok(CheckedUpload {
        etag: etag.to_string(),
        version_id: head.version_id().map(str::to_string),
        size,
    })
}

/// Parses the CSV: UTF-8 with or without a BOM, LF or CRLF; header names are matched
/// case-insensitively and unknown columns are refused.
fn parse(bytes: &[u8]) -> ApiResult<Vec<Row>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("file", "is empty"));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::invalid("file", "must be UTF-8 text"));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ApiError::invalid("file", format!("has no readable header: {e}")))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let mut checks = Checks::new();
    for h in &headers {
        if !COLUMNS.contains(&h.as_str()) {
            checks.fail("file", format!("has an unknown column \"{h}\""));
        }
    }
    for required in ["email", "name"] {
        if !headers.iter().any(|h| h == required) {
            checks.fail("file", format!("lacks the column \"{required}\""));
        }
    }
    checks.finish()?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        // The header is row 1, as a spreadsheet numbers it (blank lines are skipped unnumbered).
        let number = i + 2;
        let record = record.map_err(|e| ApiError::invalid("file", format!("row {number}: {e}")))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let fields = headers
            .iter()
            .zip(record.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(h, v)| (h.clone(), v.to_string()))
            .collect();
        rows.push(Row { number, fields });
    }
    if rows.is_empty() {
        return Err(ApiError::invalid("file", "has a header but no rows"));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_takes_bom_crlf_and_reports_empty_files() {
        let rows = parse(b"\xEF\xBB\xBFEmail,Name\r\na@x.test,A\r\n\r\nb@x.test,B\r\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].number, 2);
        assert_eq!(rows[1].number, 3);
        assert_eq!(rows[1].fields["email"], "b@x.test");
        assert!(parse(b"").is_err());
        assert!(parse(b"email,name\n").is_err());
        assert!(parse(b"email,salary\nx@y.test,1\n").is_err());
        assert!(parse(&[0xff, 0xfe, 0x00]).is_err());
        assert_eq!(parse(template().as_bytes()).unwrap().len(), 1);
    }
}
