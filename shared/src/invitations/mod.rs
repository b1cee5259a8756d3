//! Invitations by email: an admin (or, when the tenant allows it, a member) invites a person into
//! a department with a role; the person follows the mailed link, signs in or creates an account,
//! and joins — directly, or as a pending join request when the tenant's join rules want approval
//! for invitations sent by non-admins.
//!
//! Rules that hold under concurrency:
//! - one live invitation per email per tenant: the `INVITEEMAIL#` guard, created with the
//!   invitation, expires with it;
//! - a pending invitation holds a place in the member quota (`quota_used`) from the moment it is
//!   sent until it is accepted, cancelled, or expires (the invitation-expiry job gives the place
//!   back), so accepting can never overrun the quota;
//! - a link works once: accepting moves the invitation out of `pending` under a condition on its
//!   status and current token hash, in the same transaction that creates the member; a resend
//!   replaces the token hash, so older links stop working.
//!
//! By use case: [`send`] (create), [`manage`] (list, resend, cancel), [`preview`] and [`accept`]
//! (the public link); [`admission`] holds what accepting shares with joining through a join link.

mod accept;
pub(crate) mod admission;
pub mod expiry;
mod invitation;
mod mail;
mod manage;
mod preview;
mod send;

pub use crate::joining::outcome::Joined;
pub use accept::{AcceptInvitation, accept};
#[cfg(test)]
pub(crate) use invitation::fixtures;
pub(crate) use invitation::invitee_guard;
pub use invitation::{Invitation, InvitationStatus, InvitationView};
pub use mail::invitation_link;
pub(crate) use mail::{branded_html, branding_for};
pub use manage::{cancel, list, resend};
pub use preview::{InvitationPreview, preview};
pub use send::{CreateInvitation, create};
pub(crate) use send::{Draft, is_admin, send};
