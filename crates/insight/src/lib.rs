//! Insight (评价与报表): dashboards of any org node over any period (case
//! volume by category and channel over time, the six indicators and their
//! trend, late and escalated demands, top categories, a unit × category
//! heat table, drill-down from the district to the buildings and the
//! demand list), league tables of compounds, communities, streets and
//! butlers under configurable weights with period-over-period movement, and
//! the monthly Excel report.
//!
//! Every indicator comes from `cases::rates` — the one computation path
//! shared with `GET /api/v1/insight/rates` (read from the incremental
//! rollups). `model` holds the pure rules (scoring, ranking, periods and
//! buckets), `store` the grouped SQL, `dashboard` the figures, `svg` the
//! charts, `api` the routes under `/api/v1/insight`, `pages` the pages
//! under `/insight`, `report` the workbook.

pub mod api;
pub mod dashboard;
pub mod model;
pub mod pages;
pub mod report;
pub mod store;
pub mod survey;
pub mod svg;
