//! One page of a list: what a client asks for (`limit`, `cursor`) and what it gets back.

use crate::error::{ApiError, ApiResult};
use serde::Serialize;

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// `limit` and `cursor` of a list request.
#[derive(Debug, Clone)]
pub struct PageParams {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl PageParams {
    /// The page a client asked for: `limit` from 1 to [`MAX_PAGE`] (default [`DEFAULT_PAGE`]),
    /// an empty cursor the same as none.
    pub fn new(limit: Option<&str>, cursor: Option<String>) -> ApiResult<Self> {
        let limit = match limit {
            None => DEFAULT_PAGE,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid("limit", format!("must be an integer from 1 to {MAX_PAGE}"))
                })?,
        };
        Ok(Self {
            limit,
            cursor: cursor.filter(|c| !c.is_empty()),
        })
    }
}

/// A list answer: `{items, next_cursor}`.
#[derive(Debug, Serialize)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_bounded_and_empty_cursors_ignored() {
        assert_eq!(PageParams::new(None, None).unwrap().limit, DEFAULT_PAGE);
        assert_eq!(PageParams::new(Some("200"), None).unwrap().limit, 200);
        for bad in ["0", "201", "-1", "ten", ""] {
            assert_eq!(
                PageParams::new(Some(bad), None).unwrap_err().code(),
                "validation_failed"
            );
        }
        assert!(
            PageParams::new(None, Some(String::new()))
                .unwrap()
                .cursor
                .is_none()
        );
    }
}
