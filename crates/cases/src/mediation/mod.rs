//! Dispute mediation (矛盾调解): a case with its parties (households), its
//! mediators (party members, butlers, community and property staff), the
//! sessions held, the outcome (agreement / no agreement / referral to the
//! 人民调解委员会 or a court) and follow-up visits. A case may start from a
//! demand of kind 纠纷, and an agreement or referral closes that demand.
//!
//! `model` holds the pure rules, `store` the SQL, `api` the routes under
//! `/api/v1/mediation` and the procedures they call, `pages` the web pages
//! under `/mediation`, `demo` the seed page's case for the demo world.

pub mod api;
pub mod demo;
pub mod model;
pub mod pages;
pub mod store;
