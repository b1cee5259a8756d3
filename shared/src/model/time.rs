//! Time as Roster stores it.

use time::OffsetDateTime;

/// Times in index sort keys are whole seconds: RFC 3339 of them has one width and sorts as text.
pub fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
