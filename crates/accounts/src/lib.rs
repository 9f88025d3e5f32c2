//! Accounts: users, credentials, sessions (bearer tokens for the API, cookie
//! sessions with CSRF for the web), lockout, role grants and the audit log.

pub mod api;
pub mod cache;
pub mod model;
pub mod pages;
pub mod session;
pub mod store;

pub use session::{Auth, MaybeAuth};
