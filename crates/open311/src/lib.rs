//! Open311 GeoReport v2 (JSON and XML) over the demands: the public
//! services and requests, POST with per-integration API keys (a request
//! becomes an ordinary demand, channel `open311`), tokens, and FixMyStreet's
//! `servicerequestupdates` so a client can follow status changes.

pub mod api;
pub mod model;
pub mod store;

pub use api::routes;
