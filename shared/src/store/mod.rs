//! DynamoDB plumbing: consistent reads, transactions whose failed conditions map to client errors,
//! paged queries with opaque cursors, and a request counter for tests. Keys come from [`crate::keys`].

mod batch;
mod client;
mod counter;
mod expression;
mod item;
mod page;
mod transaction;

pub use batch::{Batch, BatchRead, Slot};
pub use client::{Store, is_throttling, sdk_error};
pub use counter::RequestCounter;
pub use expression::{Condition, Filter, Update};
pub use item::{Item, counter, from_item, key_of, num, readable, s, to_item};
pub use page::{Page, Query, SortRange, cursor_after, cursor_position};
pub use transaction::{Action, MAX_TRANSACTION_ACTIONS, Transaction};
