//! The black-box suite: a real server on port 0 over real HTTP, on a temp
//! SQLite file, or on PostgreSQL when `LIANXIN_TEST_DATABASE_URL` is set
//! (each test then gets a database of its own).

mod helpers;

mod auth;
mod auth_cache;
mod authz_matrix;
mod bad_input;
mod binary;
mod bola_props;
mod confirm_pages;
mod crash;
mod demands;
mod flow_pages;
mod form_errors;
mod i18n_pages;
mod idempotency;
mod import_jobs;
mod insight;
mod mediation;
mod mediation_pages;
mod notify;
mod open311;
mod openapi;
mod ops;
mod org_registry;
mod pages;
mod party;
mod privacy;
mod query_counts;
mod rates;
mod reference_cache;
mod rights;
mod rollups;
mod scope;
mod security_auth;
mod seed;
mod storage;
mod transition_table;
mod web_security;
mod workflow;
