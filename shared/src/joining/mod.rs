//! Joining by public link (the "organization door number") and the approval of join requests.
//!
//! A join link is a code anyone holding it can use to ask to join: optionally into a department,
//! until an expiry, for a number of uses. The code carries 128 random bits and only its SHA-256 is
//! stored, so it is shown once, when the link is created. Asking to join creates a member in
//! status `pending` (a join request) which holds a place in the quota; an admin approves it (into
//! a department), or rejects it with a reason; approving a rejected request re-examines it.
//!
//! By use case: [`links`] (create, list, revoke), [`join`] (the public code or the tenant's join
//! number: preview and the request), [`number`] (the join number), [`requests`] (list, approve,
//! reject).

mod join;
mod links;
pub mod number;
mod requests;

pub use join::{
    JoinInput, JoinOutcome, JoinPreview, join, join_by_number, preview, preview_number,
};
pub use links::{
    CreateJoinLink, JoinLink, JoinLinkState, JoinLinkView, create_link, join_url, list_links,
    revoke_link,
};
pub use requests::{ApproveInput, JoinRequestView, RejectInput, approve, list_requests, reject};

pub const MAX_USES: i64 = 100_000;
