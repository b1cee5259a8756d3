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
pub(crate) mod outcome;
mod public;
mod requests;

pub use filing::file_queued;
pub use join::{JoinInput, JoinPreview, join, join_by_number, preview, preview_number};
pub use links::{
    CreateJoinLink, JoinLink, JoinLinkState, JoinLinkView, MAX_USES, create_link, join_url,
    list_links, revoke_link,
};
pub use number::{JoinNumberView, rotate as rotate_number};
pub use outcome::JoinOutcome;
pub(crate) use public::is_public;
pub use requests::{ApproveInput, JoinRequestView, RejectInput, approve, list_requests, reject};
