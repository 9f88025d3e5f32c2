//! The 派单目录: categories with their kind, default handler role, default
//! urgency and time limits per urgency class; and the working calendar's
//! holidays. Defaults are written at start-up into an empty catalogue.

use crate::workflow::Urgency;
use kernel::calendar::{DayKind, WorkingCalendar};
use kernel::rows::Columns;
use kernel::{AppResult, Ctx, Db, Role, Tx};
use serde::Serialize;
use sqlx::Row;

/// (code, 中文, English, kind, default handler role, default urgency)
pub const DEFAULTS: &[(&str, &str, &str, &str, Role, Urgency)] = &[
    (
        "leak",
        "漏水",
        "Water leak",
        "repair",
        Role::Butler,
        Urgency::High,
    ),
    (
        "elevator",
        "电梯",
        "Lift",
        "repair",
        Role::PropertyStaff,
        Urgency::Urgent,
    ),
    (
        "parking",
        "停车",
        "Parking",
        "complaint",
        Role::PropertyStaff,
        Urgency::Normal,
    ),
    (
        "charging",
        "充电桩",
        "EV charging",
        "repair",
        Role::PropertyStaff,
        Urgency::Normal,
    ),
    (
        "access",
        "门禁",
        "Access control",
        "repair",
        Role::PropertyStaff,
        Urgency::High,
    ),
    (
        "garbage",
        "垃圾清运",
        "Rubbish",
        "complaint",
        Role::Butler,
        Urgency::Normal,
    ),
    (
        "noise",
        "噪音扰民",
        "Noise",
        "complaint",
        Role::Butler,
        Urgency::Normal,
    ),
    (
        "neighbour_dispute",
        "邻里纠纷",
        "Neighbour dispute",
        "dispute",
        Role::PartyBranchSecretary,
        Urgency::Normal,
    ),
    (
        "property_fee",
        "物业费",
        "Property fee",
        "enquiry",
        Role::PropertyManager,
        Urgency::Low,
    ),
    (
        "sanitation",
        "环境卫生",
        "Cleanliness",
        "complaint",
        Role::Butler,
        Urgency::Normal,
    ),
    (
        "public_facility",
        "公共设施",
        "Public facilities",
        "repair",
        Role::PropertyStaff,
        Urgency::Normal,
    ),
    (
        "suggestion",
        "建言献策",
        "Suggestion",
        "suggestion",
        Role::CommunityStaff,
        Urgency::Low,
    ),
];

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Limits {
    pub dispatch_minutes: i64,
    pub feedback_minutes: i64,
    /// Urgent limits run round the clock; the others count office time.
    pub natural_clock: bool,
}

impl Limits {
    pub fn default_for(u: Urgency) -> Limits {
        let (d, f) = u.default_limits();
        Limits {
            dispatch_minutes: d,
            feedback_minutes: f,
            natural_clock: u.natural_clock(),
        }
    }

    pub fn basis(&self) -> kernel::calendar::LimitBasis {
        if self.natural_clock {
            kernel::calendar::LimitBasis::Natural
        } else {
            kernel::calendar::LimitBasis::Working
        }
    }
}

pub async fn ensure_defaults(db: &Db) -> AppResult<()> {
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM demand_categories")
        .fetch_one(db.reader())
        .await?
        .get(0);
    let mut tx = db.begin().await?;
    if n == 0 {
        for (i, (code, zh, en, kind, role, urgency)) in DEFAULTS.iter().enumerate() {
            let l = Limits::default_for(*urgency);
            crate::store::insert_category(
                &mut tx,
                code,
                zh,
                en,
                kind,
                l.dispatch_minutes,
                l.feedback_minutes,
                i as i64,
            )
            .await?;
            sqlx::query("UPDATE demand_categories SET default_handler_role = $1, default_urgency = $2 WHERE code = $3")
                .bind(role.as_str())
                .bind(urgency.as_str())
                .bind(code)
                .execute(&mut *tx)
                .await?;
        }
    }
    let limits: i64 = sqlx::query("SELECT COUNT(*) FROM category_limits")
        .fetch_one(&mut *tx)
        .await?
        .get(0);
    if limits == 0 {
        let codes: Vec<String> = sqlx::query("SELECT code FROM demand_categories")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for code in codes {
            for u in Urgency::ALL {
                set_limits(&mut tx, &code, u, &Limits::default_for(u)).await?;
            }
        }
    }
    let days: i64 = sqlx::query("SELECT COUNT(*) FROM calendar_days")
        .fetch_one(&mut *tx)
        .await?
        .get(0);
    if days == 0 {
        for (day, kind) in kernel::calendar::CHINA_2026 {
            let k = match kind {
                DayKind::Holiday => "holiday",
                DayKind::Workday => "workday",
            };
            sqlx::query("INSERT INTO calendar_days (day, kind, note) VALUES ($1, $2, NULL)")
                .bind(*day)
                .bind(k)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub async fn set_limits(tx: &mut Tx, code: &str, u: Urgency, l: &Limits) -> AppResult<()> {
    sqlx::query("DELETE FROM category_limits WHERE category = $1 AND urgency = $2")
        .bind(code)
        .bind(u.as_str())
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO category_limits (category, urgency, dispatch_minutes, feedback_minutes, natural_clock) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(code)
    .bind(u.as_str())
    .bind(l.dispatch_minutes)
    .bind(l.feedback_minutes)
    .bind(l.natural_clock as i64)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The limits of a category for an urgency (the class defaults if unset).
pub async fn limits(db: &Db, code: &str, u: Urgency) -> AppResult<Limits> {
    let r = sqlx::query("SELECT dispatch_minutes, feedback_minutes, natural_clock FROM category_limits WHERE category = $1 AND urgency = $2")
        .bind(code)
        .bind(u.as_str())
        .fetch_optional(db.reader())
        .await?;
    Ok(match r {
        Some(r) => Limits {
            dispatch_minutes: r.get(0),
            feedback_minutes: r.get(1),
            natural_clock: r.get::<i64, _>(2) != 0,
        },
        None => Limits::default_for(u),
    })
}

/// What filing in an active category starts with: its default urgency and
/// that urgency's limits (one query; `None` when there is no such category).
pub async fn filing_terms(db: &Db, code: &str) -> AppResult<Option<(Urgency, Limits)>> {
    // The lean read path: every filing asks.
    let rows = db
        .rows(
            "SELECT c.default_urgency, l.dispatch_minutes, l.feedback_minutes, l.natural_clock
             FROM demand_categories c
             LEFT JOIN category_limits l ON l.category = c.code AND l.urgency = c.default_urgency
             WHERE c.code = $1 AND c.active = 1",
            vec![code.into()],
        )
        .await?;
    let Some((urgency, set)) = rows.first().map(|r| {
        let urgency = Urgency::parse(&r.text("default_urgency"));
        let set = r
            .opt_int("dispatch_minutes")
            .map(|dispatch_minutes| Limits {
                dispatch_minutes,
                feedback_minutes: r.int("feedback_minutes"),
                natural_clock: r.flag("natural_clock"),
            });
        (urgency, set)
    }) else {
        return Ok(None);
    };
    drop(rows);
    let Some(urgency) = urgency else {
        return Ok(Some((
            Urgency::Normal,
            limits(db, code, Urgency::Normal).await?,
        )));
    };
    Ok(Some((
        urgency,
        set.unwrap_or_else(|| Limits::default_for(urgency)),
    )))
}

/// All limits of a category, by urgency.
pub async fn all_limits(db: &Db, code: &str) -> AppResult<Vec<(Urgency, Limits)>> {
    let mut out = Vec::new();
    for u in Urgency::ALL {
        out.push((u, limits(db, code, u).await?));
    }
    Ok(out)
}

/// Loads holidays and 调休 days from the database into the shared calendar.
pub async fn refresh_calendar(ctx: &Ctx) -> AppResult<()> {
    let rows = sqlx::query("SELECT day, kind FROM calendar_days")
        .fetch_all(ctx.db.reader())
        .await?;
    let overrides: Vec<_> = rows
        .iter()
        .filter_map(|r| {
            let day: String = r.get(0);
            let kind: String = r.get(1);
            let d = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").ok()?;
            let k = if kind == "workday" {
                DayKind::Workday
            } else {
                DayKind::Holiday
            };
            Some((d, k))
        })
        .collect();
    let office = kernel::calendar::OfficeHours {
        periods: vec![(510, 720), (870, 1080)],
    };
    let cal = WorkingCalendar::new(office, overrides).map_err(kernel::AppError::internal)?;
    if let Ok(mut c) = ctx.calendar.write() {
        *c = cal;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn defaults_are_well_formed() {
        let mut codes: Vec<_> = super::DEFAULTS.iter().map(|d| d.0).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), super::DEFAULTS.len());
        for d in super::DEFAULTS {
            assert!(crate::model::DemandKind::parse(d.3).is_some(), "{}", d.0);
        }
    }
}
