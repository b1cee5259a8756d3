//! Joining by public link (the "organization door number") and the approval of join requests.
//!
//! A join link is a code anyone holding it can use to ask to join: optionally into a department,
//! until an expiry, for a number of uses. The code carries 128 random bits and only its SHA-256 is
//! stored, so it is shown once, when the link is created. Asking to join creates a member in
//! status `pending` (a join request). Requests through these public doors do not fill the member
//! quota (strangers could): they count against their own cap per tenant (the deployment's
//! `pending_join_requests`), and take a quota place when approved. An admin approves a request
//! (into a department), or rejects it with a reason; approving a rejected one re-examines it.
//!
//! By use case: [`links`] (create, list, revoke), [`join`] (the public code or the tenant's join
//! number: preview and the request), [`number`] (the join number), [`requests`] (list, approve,
//! reject).

mod filing;
mod join;
mod links;
pub mod number;
mod requests;

pub use filing::file_queued;
pub use join::{
    JoinInput, JoinOutcome, JoinPreview, join, join_by_number, preview, preview_number,
};
pub use links::{
    CreateJoinLink, JoinLink, JoinLinkState, JoinLinkView, create_link, join_url, list_links,
    revoke_link,
};
pub use number::{JoinNumberView, rotate as rotate_number};
pub use requests::{ApproveInput, JoinRequestView, RejectInput, approve, list_requests, reject};

pub const MAX_USES: i64 = 100_000;

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
