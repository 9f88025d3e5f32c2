//! The page of `GET /api/v1/demands`, written to JSON straight from the
//! lean rows of the read.
//!
//! The list is the hottest read. Going through [`crate::store::DemandRow`]
//! and [`crate::api::DemandView`] cost, per row, a name lookup and a moved or
//! copied string for each of some forty columns, four formatted times and
//! the view's own strings (allocation and column-name comparisons led the
//! profile of a city list in session 10). Here the columns are found once
//! per page and each field is serialised from the row's value in place. The
//! JSON is the same as the `DemandView` of each row, field for field — a
//! test in the API suite compares the two on a seeded world.

use crate::model::DemandStatus;
use kernel::clock::{rfc3339_bytes, to_rfc3339};
use kernel::page::encode_cursor;
use kernel::rows::{RowRef, Rows};
use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

/// Positions of the columns the view reads, resolved once per page.
struct Cols {
    id: usize,
    category: usize,
    title: usize,
    description: usize,
    location: usize,
    anonymous: usize,
    channel: usize,
    status: usize,
    household_id: usize,
    building_id: usize,
    org_path: usize,
    created_at: usize,
    updated_at: usize,
    version: usize,
    urgency: usize,
    assignee_user_id: usize,
    dispatch_deadline: usize,
    feedback_deadline: usize,
    overdue: usize,
    escalation_level: usize,
    escalated_to: usize,
    rework_count: usize,
    closed_on_time: usize,
    merged_into: usize,
    support_count: usize,
    rated_at: usize,
    rating_contacted: usize,
    rating_resolved: usize,
    rating_satisfaction: usize,
    rating_comment: usize,
    rating_source: usize,
}

impl Cols {
    fn of(rows: &Rows) -> Cols {
        let i = |name| rows.index_of(name);
        Cols {
            id: i("id"),
            category: i("category"),
            title: i("title"),
            description: i("description"),
            location: i("location"),
            anonymous: i("anonymous"),
            channel: i("channel"),
            status: i("status"),
            household_id: i("household_id"),
            building_id: i("building_id"),
            org_path: i("org_path"),
            created_at: i("created_at"),
            updated_at: i("updated_at"),
            version: i("version"),
            urgency: i("urgency"),
            assignee_user_id: i("assignee_user_id"),
            dispatch_deadline: i("dispatch_deadline"),
            feedback_deadline: i("feedback_deadline"),
            overdue: i("overdue"),
            escalation_level: i("escalation_level"),
            escalated_to: i("escalated_to"),
            rework_count: i("rework_count"),
            closed_on_time: i("closed_on_time"),
            merged_into: i("merged_into"),
            support_count: i("support_count"),
            rated_at: i("rated_at"),
            rating_contacted: i("rating_contacted"),
            rating_resolved: i("rating_resolved"),
            rating_satisfaction: i("rating_satisfaction"),
            rating_comment: i("rating_comment"),
            rating_source: i("rating_source"),
        }
    }
}

/// One page of demands: `{"items": [...], "next_cursor": ...}` as
/// `Page<DemandView>` serialises it.
pub struct DemandListPage {
    rows: Rows,
    /// `None` when the read found no rows (a PostgreSQL read then has no
    /// column names either).
    cols: Option<Cols>,
    /// Rows shown: the read fetched one more than the page to learn whether
    /// another page follows.
    shown: usize,
    next_cursor: Option<String>,
}

impl DemandListPage {
    /// The page of `limit` rows out of a read of up to `limit + 1`.
    pub fn new(rows: Rows, limit: usize) -> DemandListPage {
        let cols = (!rows.is_empty()).then(|| Cols::of(&rows));
        let shown = rows.len().min(limit);
        let next_cursor = match (&cols, rows.len() > limit) {
            (Some(c), true) if shown > 0 => rows
                .iter()
                .nth(shown - 1)
                .and_then(|r| r.at(c.id).as_str().map(encode_cursor)),
            _ => None,
        };
        DemandListPage {
            rows,
            cols,
            shown,
            next_cursor,
        }
    }
}

impl Serialize for DemandListPage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut page = s.serialize_struct("Page", 2)?;
        page.serialize_field("items", &Items(self))?;
        page.serialize_field("next_cursor", &self.next_cursor)?;
        page.end()
    }
}

struct Items<'a>(&'a DemandListPage);

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let page = self.0;
        let mut seq = s.serialize_seq(Some(page.shown))?;
        if let Some(cols) = &page.cols {
            for row in page.rows.iter().take(page.shown) {
                seq.serialize_element(&Item { row, cols })?;
            }
        }
        seq.end()
    }
}

/// One row as a `DemandView` (without `events` and `allowed_actions`,
/// which only the detail carries).
struct Item<'a> {
    row: RowRef<'a>,
    cols: &'a Cols,
}

impl Item<'_> {
    fn text(&self, i: usize) -> Option<&str> {
        self.row.at(i).as_str()
    }

    fn int(&self, i: usize) -> Option<i64> {
        self.row.at(i).as_int()
    }
}

/// A stored time (ms) as RFC 3339 in Shanghai, written without an
/// intermediate `String`.
struct Time(i64);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match rfc3339_bytes(self.0) {
            Some(b) => s.serialize_str(std::str::from_utf8(&b).unwrap_or_default()),
            None => s.serialize_str(&to_rfc3339(self.0)),
        }
    }
}

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.cols;
        let flag = |i| self.int(i).is_some_and(|v| v != 0);
        let mut v = s.serialize_struct("DemandView", 26)?;
        v.serialize_field("id", &self.text(c.id))?;
        v.serialize_field("category", &self.text(c.category))?;
        v.serialize_field("title", &self.text(c.title))?;
        v.serialize_field("description", &self.text(c.description))?;
        v.serialize_field("location", &self.text(c.location))?;
        v.serialize_field("anonymous", &flag(c.anonymous))?;
        v.serialize_field("channel", &self.text(c.channel))?;
        let status = self
            .text(c.status)
            .and_then(DemandStatus::parse)
            .unwrap_or(DemandStatus::Submitted);
        v.serialize_field("status", &status)?;
        v.serialize_field("household_id", &self.text(c.household_id))?;
        v.serialize_field("building_id", &self.text(c.building_id))?;
        v.serialize_field("org_path", &self.text(c.org_path))?;
        v.serialize_field("created_at", &self.int(c.created_at).map(Time))?;
        v.serialize_field("updated_at", &self.int(c.updated_at).map(Time))?;
        v.serialize_field("version", &self.int(c.version))?;
        v.serialize_field("urgency", &self.text(c.urgency))?;
        v.serialize_field("assignee_id", &self.text(c.assignee_user_id))?;
        v.serialize_field(
            "dispatch_deadline",
            &self.int(c.dispatch_deadline).map(Time),
        )?;
        v.serialize_field(
            "feedback_deadline",
            &self.int(c.feedback_deadline).map(Time),
        )?;
        v.serialize_field("overdue", &flag(c.overdue))?;
        v.serialize_field("escalation_level", &self.int(c.escalation_level))?;
        v.serialize_field("escalated_to", &self.text(c.escalated_to))?;
        v.serialize_field("rework_count", &self.int(c.rework_count))?;
        v.serialize_field(
            "closed_on_time",
            &self.int(c.closed_on_time).map(|v| v == 1),
        )?;
        v.serialize_field("merged_into", &self.text(c.merged_into))?;
        v.serialize_field("support_count", &self.int(c.support_count))?;
        let rating = self.int(c.rated_at).map(|at| Rating { item: self, at });
        v.serialize_field("rating", &rating)?;
        v.end()
    }
}

/// The `rating` object of a rated demand (`RatingView`).
struct Rating<'a> {
    item: &'a Item<'a>,
    at: i64,
}

impl Serialize for Rating<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (item, c) = (self.item, self.item.cols);
        let mut v = s.serialize_struct("RatingView", 6)?;
        v.serialize_field("rated_at", &Time(self.at))?;
        v.serialize_field("contacted", &(item.int(c.rating_contacted) == Some(1)))?;
        v.serialize_field("resolved", &(item.int(c.rating_resolved) == Some(1)))?;
        v.serialize_field(
            "satisfaction",
            &item.int(c.rating_satisfaction).unwrap_or(0),
        )?;
        v.serialize_field("comment", &item.text(c.rating_comment))?;
        v.serialize_field("source", &item.text(c.rating_source).unwrap_or_default())?;
        v.end()
    }
}
