//! Party building (党建引领): the organisations (社区党委 > 小区(联合)党支部 >
//! 楼宇党小组) attached to org nodes, their officers and terms, the members
//! and their three management modes (居民党员 直接管, 在职党员 双重管 with
//! 双报到, 流动党员 跟进管 with check-ins), transfers with history, 党员中心户
//! and 先锋岗, the red-butler roster and cross-appointments into the owners'
//! committee and the property company, activities (三会一课, 主题党日) with
//! attendance, minutes and photos, community service tasks and volunteer
//! records, statistics, and Excel in/out of members.
//!
//! Privacy: party membership is sensitive personal information. Members'
//! personal fields live in one AES-GCM encrypted profile per row, with keyed
//! blind indexes (in the party's own domains) only where a lookup needs them;
//! who may see what is decided by [`model::MemberAccess`].
//!
//! `model` holds the pure rules, `store` the SQL, `api` the routes under
//! `/api/v1/party` and the procedures they call, `pages` the web pages under
//! `/party`, `xlsx` the member workbook, `demo` the seed page's branch.

pub mod api;
pub mod demo;
pub mod model;
pub mod pages;
pub mod store;
pub mod xlsx;
