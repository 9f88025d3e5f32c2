//! Demands (诉求) and, later, mediation: the case workflow. This is the
//! first path — filing, listing in scope, reading with the timeline; the
//! full workflow, deadlines and rates are issue #3's.

pub mod api;
pub mod attachments;
pub mod catalogue;
pub mod flow;
pub mod insight_api;
pub mod intake;
pub mod list_view;
pub mod mediation;
pub mod model;
pub mod notices;
pub mod pages;
pub mod rates;
pub mod reference;
pub mod rollup;
pub mod store;
pub mod workflow;
