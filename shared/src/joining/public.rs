//! A join request through a public door (a link's code or the join number): how one is told
//! apart, and the refusal once the tenant has as many pending as it takes.

/// A public door's request when the tenant already has `cap` pending ones.
pub(crate) fn requests_capped(cap: u32) -> crate::error::ApiError {
    crate::error::ApiError::QuotaExceeded(format!(
        "the organization has {cap} pending join requests, as many as it takes; \
         ask again once they are decided"
    ))
}

/// Whether a join request came through a public door (holding no quota place while pending).
pub(crate) fn is_public(member: &crate::model::member::Member) -> bool {
    use crate::model::member::JoinVia;
    member
        .join_request
        .as_ref()
        .is_some_and(|info| matches!(info.via, JoinVia::JoinLink | JoinVia::JoinNumber))
}
