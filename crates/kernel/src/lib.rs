//! The kernel every module builds on: ids, the error type, the clock, org
//! paths, the principal and its scope check, pagination, parsed personal-data
//! newtypes with masking, field encryption, the audit writer, translations and
//! the `Db` handle over SQLite or PostgreSQL.

pub mod audit;
pub mod auth_epoch;
pub mod calendar;
pub(crate) mod checkpoint;
pub mod clock;
pub mod crypto;
pub mod ctx;
pub mod db;
pub mod direct;
pub mod epoch_map;
pub mod error;
pub mod form;
pub mod i18n;
pub mod id;
pub mod idempotency;
pub mod json;
pub mod json_writer;
pub mod mask;
pub mod openapi;
pub mod orgpath;
pub mod page;
pub mod personal;
pub mod principal;
pub mod ratelimit;
pub mod rows;
pub mod shell;
pub mod text;
pub mod web;

pub use clock::{Clock, SharedClock};
pub use ctx::{Ctx, Settings};
pub use db::{Backend, Db, Tx};
pub use error::{AppError, AppResult, FieldErrors};
pub use form::FormState;
pub use orgpath::OrgPath;
pub use principal::{Grant, Principal, Role};
