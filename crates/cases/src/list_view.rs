//! The page of `GET /api/v1/demands`, written to JSON straight from the
//! lean rows of the read.
//!
//! The list is the hottest read. Going through [`crate::store::DemandRow`]
//! and [`crate::api::DemandView`] cost, per row, a name lookup and a moved or
//! copied string for each of some forty columns, four formatted times and
//! the view's own strings (allocation and column-name comparisons led the
//! profile of a city list in session 10). Here the columns are found once
//! per page and each field is written from the row's value in place, by
//! hand ([`JsonWriter`]: constant keys, strings escaped a word at a time;
//! serde_json's escaping of every key and value was a twentieth of the
//! list's samples in session 11). The JSON is the same as the `DemandView`
//! of each row, field for field — a test in the API suite compares the two
//! on a seeded world, and one below compares the bytes.

use crate::model::DemandStatus;
use axum::response::{IntoResponse, Response};
use kernel::clock::{rfc3339_bytes, to_rfc3339};
use kernel::json_writer::JsonWriter;
use kernel::page::encode_cursor;
use kernel::rows::{RowRef, Rows};

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

/// One page of demands: `{"items": [...], "next_cursor": ...}`, the JSON
/// of `Page<DemandView>`.
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

    /// The page's JSON, with the fields in `DemandView`'s order (without
    /// `events` and `allowed_actions`, which only the detail carries).
    pub fn to_json(&self) -> JsonWriter {
        // A city page of twenty demands is 18–19 KB: room for it at once.
        let mut w = JsonWriter::with_capacity(64 + self.shown * 1024);
        w.raw(b"{\"items\":[");
        if let Some(cols) = &self.cols {
            for (k, row) in self.rows.iter().take(self.shown).enumerate() {
                if k > 0 {
                    w.raw(b",");
                }
                write_item(&mut w, row, cols);
            }
        }
        w.raw(b"],\"next_cursor\":");
        w.opt_str(self.next_cursor.as_deref());
        w.raw(b"}");
        w
    }
}

impl IntoResponse for DemandListPage {
    fn into_response(self) -> Response {
        self.to_json().into_response()
    }
}

/// A stored time (ms) as RFC 3339 in Shanghai, or `null`.
fn time(w: &mut JsonWriter, ms: Option<i64>) {
    let Some(ms) = ms else {
        return w.null();
    };
    match rfc3339_bytes(ms) {
        // ASCII digits and signs only: nothing to escape.
        Some(b) => {
            w.raw(b"\"");
            w.raw(&b);
            w.raw(b"\"");
        }
        None => w.str(&to_rfc3339(ms)),
    }
}

fn write_item(w: &mut JsonWriter, row: RowRef<'_>, c: &Cols) {
    let text = |i: usize| row.at(i).as_str();
    let int = |i: usize| row.at(i).as_int();
    let flag = |i: usize| int(i).is_some_and(|v| v != 0);
    w.raw(b"{\"id\":");
    w.opt_str(text(c.id));
    w.raw(b",\"category\":");
    w.opt_str(text(c.category));
    w.raw(b",\"title\":");
    w.opt_str(text(c.title));
    w.raw(b",\"description\":");
    w.opt_str(text(c.description));
    w.raw(b",\"location\":");
    w.opt_str(text(c.location));
    w.raw(b",\"anonymous\":");
    w.bool(flag(c.anonymous));
    w.raw(b",\"channel\":");
    w.opt_str(text(c.channel));
    let status = text(c.status)
        .and_then(DemandStatus::parse)
        .unwrap_or(DemandStatus::Submitted);
    w.raw(b",\"status\":");
    w.str(status.as_str());
    w.raw(b",\"household_id\":");
    w.opt_str(text(c.household_id));
    w.raw(b",\"building_id\":");
    w.opt_str(text(c.building_id));
    w.raw(b",\"org_path\":");
    w.opt_str(text(c.org_path));
    w.raw(b",\"created_at\":");
    time(w, int(c.created_at));
    w.raw(b",\"updated_at\":");
    time(w, int(c.updated_at));
    w.raw(b",\"version\":");
    w.opt_int(int(c.version));
    w.raw(b",\"urgency\":");
    w.opt_str(text(c.urgency));
    w.raw(b",\"assignee_id\":");
    w.opt_str(text(c.assignee_user_id));
    w.raw(b",\"dispatch_deadline\":");
    time(w, int(c.dispatch_deadline));
    w.raw(b",\"feedback_deadline\":");
    time(w, int(c.feedback_deadline));
    w.raw(b",\"overdue\":");
    w.bool(flag(c.overdue));
    w.raw(b",\"escalation_level\":");
    w.opt_int(int(c.escalation_level));
    w.raw(b",\"escalated_to\":");
    w.opt_str(text(c.escalated_to));
    w.raw(b",\"rework_count\":");
    w.opt_int(int(c.rework_count));
    w.raw(b",\"closed_on_time\":");
    match int(c.closed_on_time) {
        Some(v) => w.bool(v == 1),
        None => w.null(),
    }
    w.raw(b",\"merged_into\":");
    w.opt_str(text(c.merged_into));
    w.raw(b",\"support_count\":");
    w.opt_int(int(c.support_count));
    w.raw(b",\"rating\":");
    match int(c.rated_at) {
        // `RatingView`.
        Some(at) => {
            w.raw(b"{\"rated_at\":");
            time(w, Some(at));
            w.raw(b",\"contacted\":");
            w.bool(int(c.rating_contacted) == Some(1));
            w.raw(b",\"resolved\":");
            w.bool(int(c.rating_resolved) == Some(1));
            w.raw(b",\"satisfaction\":");
            w.int(int(c.rating_satisfaction).unwrap_or(0));
            w.raw(b",\"comment\":");
            w.opt_str(text(c.rating_comment));
            w.raw(b",\"source\":");
            w.str(text(c.rating_source).unwrap_or_default());
            w.raw(b"}");
        }
        None => w.null(),
    }
    w.raw(b"}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::DemandView;
    use crate::store::demand_from;
    use kernel::page::Page;
    use kernel::rows::Value::{self, Int, Null, Text};

    const NAMES: [&str; 37] = [
        "id",
        "org_path",
        "household_id",
        "building_id",
        "category",
        "title",
        "description",
        "location",
        "anonymous",
        "channel",
        "status",
        "reporter_user_id",
        "created_by",
        "created_at",
        "updated_at",
        "version",
        "urgency",
        "assignee_user_id",
        "dispatch_deadline",
        "feedback_deadline",
        "suspended_from",
        "suspended_at",
        "remaining_minutes",
        "dispatched_at",
        "resolved_at",
        "closed_at",
        "closed_on_time",
        "rework_count",
        "escalation_level",
        "escalated_to",
        "overdue",
        "merged_into",
        "support_count",
        "rated_at",
        "rating_contacted",
        "rating_resolved",
        "rating_satisfaction",
    ];

    /// A row of `NAMES` plus the rating's comment and source.
    fn row<'a>(
        id: &'a str,
        title: &'a str,
        status: &'a str,
        nullable: bool,
        rated: Option<(&'a str, i64)>,
    ) -> Vec<Value<'a>> {
        let opt = |v: Value<'a>| if nullable { Null } else { v };
        let mut v = vec![
            Text(id),
            Text("/141100/141102/141102001/141102001001/C01/B1/U1/101/"),
            Text("018433eb-c416-72e7-848e-a298acf466b3"),
            opt(Text("018433eb-c414-7698-a1db-015bcc6acfd7")),
            Text("leak"),
            Text(title),
            Text("楼上卫生间渗水到我家天花板,\t请尽快安排维修。\u{1}"),
            opt(Text("3号楼\"东侧\"\\门口")),
            Int(i64::from(!nullable)),
            Text("open311"),
            Text(status),
            opt(Text("018433eb-c40a-79d6-8956-ca1f3f46c915")),
            Text("018433eb-c40a-79d6-8956-ca1f3f46c915"),
            Int(1_792_080_820_000),
            // Past year 9999: written the long way.
            Int(if nullable {
                253_402_300_800_000
            } else {
                1_792_666_920_000
            }),
            Int(9),
            Text("high"),
            opt(Text("018433eb-c410-7d02-a156-3df5a8907af3")),
            opt(Int(1_792_125_000_000)),
            opt(Int(-62_167_248_000_000)),
            Null,
            Null,
            Null,
            Null,
            Null,
            Null,
            opt(Int(0)),
            Int(2),
            Int(1),
            opt(Text("018433eb-c40a-79d6-8956-ca1f3f46c916")),
            Int(1),
            opt(Text("01a13ffb-ac13-7eb6-b667-3e620daf2f87")),
            Int(3),
        ];
        match rated {
            Some((comment, satisfaction)) => v.extend([
                Int(1_792_666_920_000),
                Int(1),
                Int(0),
                Int(satisfaction),
                Text(comment),
                Text("resident"),
            ]),
            None => v.extend([Null, Null, Null, Null, Null, Null]),
        }
        v
    }

    fn rows(values: &[Value<'_>]) -> Rows {
        let names: Vec<&str> = NAMES
            .iter()
            .copied()
            .chain(["rating_comment", "rating_source"])
            .collect();
        Rows::from_values(&names, values)
    }

    /// The bytes serde_json writes for the same rows as `DemandView`s.
    fn through_serde(rows: &Rows, limit: usize) -> Vec<u8> {
        let mut items: Vec<DemandView> = rows
            .iter()
            .map(|r| DemandView::from(demand_from(&r)))
            .collect();
        let next_cursor = (items.len() > limit).then(|| encode_cursor(&items[limit - 1].id));
        items.truncate(limit);
        serde_json::to_vec(&Page { items, next_cursor }).unwrap()
    }

    #[test]
    fn a_page_is_byte_for_byte_the_json_of_its_demand_views() {
        let mut values = row(
            "01a1-a",
            "卫生间漏水",
            "closed",
            false,
            Some(("师傅\"很好\"\n", 4)),
        );
        values.extend(row(
            "01a1-b",
            "\u{1f}\\ \"门禁\" 坏了",
            "submitted",
            true,
            None,
        ));
        values.extend(row("01a1-c", "", "no-such-status", false, Some(("", 1))));
        for limit in [1, 2, 3, 20] {
            // A page consumes its read: each gets rows of its own.
            let page = DemandListPage::new(rows(&values), limit);
            let ours = page.to_json().into_bytes();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(through_serde(&rows(&values), limit)).unwrap(),
                "limit {limit}"
            );
        }
    }

    #[test]
    fn an_empty_read_is_an_empty_page() {
        let page = DemandListPage::new(Rows::default(), 20);
        assert_eq!(
            page.to_json().as_bytes(),
            br#"{"items":[],"next_cursor":null}"#
        );
    }
}
