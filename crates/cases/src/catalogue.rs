//! The default 派单目录 for a housing compound, written at start-up when the
//! catalogue is empty. #3 adds urgency classes and editing by admins.

use crate::store;
use kernel::{AppResult, Db};
use sqlx::Row;

/// (code, 中文, English, kind, dispatch limit min, feedback limit min)
pub const DEFAULTS: &[(&str, &str, &str, &str, i64, i64)] = &[
    ("leak", "漏水", "Water leak", "repair", 60, 24 * 60),
    ("elevator", "电梯", "Lift", "repair", 60, 24 * 60),
    ("parking", "停车", "Parking", "complaint", 120, 7 * 24 * 60),
    (
        "charging",
        "充电桩",
        "EV charging",
        "repair",
        120,
        7 * 24 * 60,
    ),
    ("access", "门禁", "Access control", "repair", 60, 24 * 60),
    ("garbage", "垃圾清运", "Rubbish", "complaint", 120, 24 * 60),
    ("noise", "噪音扰民", "Noise", "complaint", 120, 7 * 24 * 60),
    (
        "neighbour_dispute",
        "邻里纠纷",
        "Neighbour dispute",
        "dispute",
        120,
        15 * 24 * 60,
    ),
    (
        "property_fee",
        "物业费",
        "Property fee",
        "enquiry",
        24 * 60,
        7 * 24 * 60,
    ),
    (
        "sanitation",
        "环境卫生",
        "Cleanliness",
        "complaint",
        120,
        24 * 60,
    ),
    (
        "public_facility",
        "公共设施",
        "Public facilities",
        "repair",
        120,
        7 * 24 * 60,
    ),
    (
        "suggestion",
        "建言献策",
        "Suggestion",
        "suggestion",
        24 * 60,
        15 * 24 * 60,
    ),
];

pub async fn ensure_defaults(db: &Db) -> AppResult<()> {
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM demand_categories")
        .fetch_one(db.reader())
        .await?
        .get(0);
    if n > 0 {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for (i, (code, zh, en, kind, dispatch, feedback)) in DEFAULTS.iter().enumerate() {
        store::insert_category(&mut tx, code, zh, en, kind, *dispatch, *feedback, i as i64).await?;
    }
    tx.commit().await?;
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
            assert!(d.4 > 0 && d.5 >= d.4);
        }
    }
}
