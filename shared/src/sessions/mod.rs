//! Sessions for people (SPEC.md §9.4): a sign-in starts a session whose refresh token (an
//! `HttpOnly` cookie, or the body for clients that ask) buys fresh access tokens, each refresh
//! spending the token for the next; a spent token presented again ends the session. Sessions run
//! out 12 hours after their last use and 7 days after the sign-in, and end with the user's and
//! the membership's session epochs (SPEC.md §8.1). `issue` starts and ends them, `refresh`
//! rotates, `manage` signs out, lists and ends them on the person's request.

pub mod issue;
pub mod manage;
pub mod refresh;
