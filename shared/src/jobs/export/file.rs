//! The file's rows: one a member, its cells as text (formula-like cells escaped in CSV), written
//! as CSV or XLSX into the multipart upload.

use super::multipart::{Multipart, PART_BYTES};
use super::source::Source;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::model::member::Member;
use crate::model::time::rfc3339;
use std::collections::HashMap;
use std::io::Read;
use uuid::Uuid;

/// The export's columns, in order.
pub const COLUMNS: [&str; 16] = [
    "id",
    "email",
    "name",
    "phone",
    "department",
    "position",
    "work_number",
    "location",
    "directory_number",
    "role",
    "status",
    "source",
    "licence",
    "licence_expires_at",
    "created_at",
    "last_login_at",
];

/// A cell a spreadsheet would read as a formula (= + - @, or a leading tab/CR) gets a leading
/// apostrophe, so an exported file cannot run anything when opened.
pub fn escape_formula(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_string(),
    }
}

fn row(member: &Member, paths: &HashMap<Uuid, String>) -> Vec<String> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let word = |v: serde_json::Result<serde_json::Value>| {
        v.ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    vec![
        member.id.to_string(),
        member.email.clone(),
        member.name.clone(),
        text(&member.phone),
        paths
            .get(&member.department_id)
            .cloned()
            .unwrap_or_default(),
        text(&member.position),
        text(&member.work_number),
        text(&member.location),
        member.directory_number.to_string(),
        word(serde_json::to_value(member.role)),
        word(serde_json::to_value(member.status)),
        word(serde_json::to_value(member.source)),
        if member.licence.is_some() {
            "active".into()
        } else {
            "none".into()
        },
        member
            .licence
            .as_ref()
            .map(|l| rfc3339(l.expires_at))
            .unwrap_or_default(),
        rfc3339(member.created_at),
        member.last_login_at.map(rfc3339).unwrap_or_default(),
    ]
}

pub(super) async fn department_paths(
    app: &App,
    tenant_id: Uuid,
) -> ApiResult<HashMap<Uuid, String>> {
    Ok(crate::departments::all(app, tenant_id)
        .await?
        .iter()
        .map(|d| (d.id, crate::departments::relative_path(d)))
        .collect())
}

pub(super) async fn write_csv(
    app: &App,
    source: &mut Source,
    paths: &HashMap<Uuid, String>,
    upload: &mut Multipart<'_>,
) -> ApiResult<u64> {
    let csv_bytes = |rows: &[Vec<String>]| -> ApiResult<Vec<u8>> {
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        for r in rows {
            writer.write_record(r).map_err(ApiError::internal)?;
        }
        writer.into_inner().map_err(ApiError::internal)
    };
    // A BOM lets spreadsheet programs read the file as UTF-8.
    let mut head = b"\xEF\xBB\xBF".to_vec();
    head.extend(csv_bytes(&[COLUMNS
        .iter()
        .map(|c| c.to_string())
        .collect()])?);
    upload.write(&head).await?;
    let mut rows = 0u64;
    while let Some(members) = source.next(app).await? {
        let page: Vec<Vec<String>> = members
            .iter()
            .map(|m| row(m, paths).iter().map(|v| escape_formula(v)).collect())
            .collect();
        rows += page.len() as u64;
        upload.write(&csv_bytes(&page)?).await?;
    }
    Ok(rows)
}

pub(super) async fn write_xlsx(
    app: &App,
    source: &mut Source,
    paths: &HashMap<Uuid, String>,
    upload: &mut Multipart<'_>,
) -> ApiResult<u64> {
    use rust_xlsxwriter::Workbook;
    let xlsx = |e: rust_xlsxwriter::XlsxError| ApiError::internal(e);
    let dir = std::env::temp_dir();
    let mut workbook = Workbook::new();
    workbook.set_tempdir(&dir).map_err(xlsx)?;
    let mut rows = 0u64;
    {
        let sheet = workbook
            .add_worksheet_with_constant_memory()
            .map_err(xlsx)?;
        sheet.set_name("Members").map_err(xlsx)?;
        for (col, name) in COLUMNS.iter().enumerate() {
            sheet.write_string(0, col as u16, *name).map_err(xlsx)?;
        }
        while let Some(members) = source.next(app).await? {
            for m in &members {
                rows += 1;
                let line = u32::try_from(rows).map_err(ApiError::internal)?;
                for (col, value) in row(m, paths).iter().enumerate() {
                    // Strings are stored as strings: a spreadsheet never evaluates them.
                    sheet.write_string(line, col as u16, value).map_err(xlsx)?;
                }
            }
        }
    }
    let path = dir.join(format!("roster-export-{}.xlsx", Uuid::now_v7()));
    let file = std::fs::File::create(&path).map_err(ApiError::internal)?;
    let saved = workbook.save_to_writer(file).map_err(xlsx);
    let uploaded = async {
        saved?;
        let mut file = std::fs::File::open(&path).map_err(ApiError::internal)?;
        let mut buffer = vec![0u8; PART_BYTES];
        loop {
            let n = read_full(&mut file, &mut buffer)?;
            if n == 0 {
                break;
            }
            upload.write(&buffer[..n]).await?;
        }
        Ok::<_, ApiError>(())
    }
    .await;
    let _ = std::fs::remove_file(&path);
    uploaded?;
    Ok(rows)
}

fn read_full(file: &mut std::fs::File, buffer: &mut [u8]) -> ApiResult<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        let n = file
            .read(&mut buffer[filled..])
            .map_err(ApiError::internal)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}
