//! The org registry (组织与房屋): the region tree 市>区县>街道/乡镇>社区/村>小区>
//! 楼栋>单元>户, residents and their households, grids; Excel in and out.

pub mod api;
pub mod import_job;
pub mod model;
pub mod pages;
pub mod store;
pub mod xlsx;
