//! Member exports: all members, a department (with or without its descendants), chosen ids, or a
//! search, as CSV or XLSX. The export function reads members a page at a time and streams the
//! file to S3 as a multipart upload (CSV parts are cut every 8 MiB; XLSX is written by
//! rust_xlsxwriter in constant-memory mode to /tmp and uploaded from there), so memory stays flat
//! whatever the tenant's size. CSV cells that a spreadsheet would take for a formula are escaped.

mod create;
mod file;
mod multipart;
mod run;
mod source;

pub use create::{CreateExport, MAX_SELECTED, create};
pub use file::{COLUMNS, escape_formula};
pub use run::{StreamReport, handle_stream, run};

pub use crate::model::job::{ExportFormat, ExportScope, ExportSpec};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_escaped_and_others_kept() {
        assert_eq!(escape_formula("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(escape_formula("+1"), "'+1");
        assert_eq!(escape_formula("-2"), "'-2");
        assert_eq!(escape_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(escape_formula("\tx"), "'\tx");
        assert_eq!(escape_formula("Ada"), "Ada");
        assert_eq!(escape_formula(""), "");
    }
}
