//! Pure demand rules: statuses, channels, kinds and the check of a new demand.

use kernel::{text, FieldErrors};
use serde::{Deserialize, Serialize};

/// The states of DESIGN.md §3 (GB/T 30428 / 12345 practice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DemandStatus {
    Submitted,
    Accepted,
    Dispatched,
    InProgress,
    Resolved,
    Closed,
    Returned,
    Rework,
    Suspended,
    Rejected,
    Merged,
}

impl DemandStatus {
    pub const ALL: [DemandStatus; 11] = [
        DemandStatus::Submitted,
        DemandStatus::Accepted,
        DemandStatus::Dispatched,
        DemandStatus::InProgress,
        DemandStatus::Resolved,
        DemandStatus::Closed,
        DemandStatus::Returned,
        DemandStatus::Rework,
        DemandStatus::Suspended,
        DemandStatus::Rejected,
        DemandStatus::Merged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DemandStatus::Submitted => "submitted",
            DemandStatus::Accepted => "accepted",
            DemandStatus::Dispatched => "dispatched",
            DemandStatus::InProgress => "in_progress",
            DemandStatus::Resolved => "resolved",
            DemandStatus::Closed => "closed",
            DemandStatus::Returned => "returned",
            DemandStatus::Rework => "rework",
            DemandStatus::Suspended => "suspended",
            DemandStatus::Rejected => "rejected",
            DemandStatus::Merged => "merged",
        }
    }

    pub fn parse(s: &str) -> Option<DemandStatus> {
        DemandStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The translation key of the label.
    pub fn label_key(self) -> String {
        format!("status.{}", self.as_str())
    }
}

/// 咨询 / 求助 / 投诉 / 举报 / 建议 / 报修 / 纠纷
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandKind {
    Enquiry,
    Help,
    Complaint,
    Report,
    Suggestion,
    Repair,
    Dispute,
}

impl DemandKind {
    pub fn parse(s: &str) -> Option<DemandKind> {
        Some(match s {
            "enquiry" => DemandKind::Enquiry,
            "help" => DemandKind::Help,
            "complaint" => DemandKind::Complaint,
            "report" => DemandKind::Report,
            "suggestion" => DemandKind::Suggestion,
            "repair" => DemandKind::Repair,
            "dispute" => DemandKind::Dispute,
            _ => return None,
        })
    }
}

/// How a demand reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    Phone,
    Open311,
    Grid,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Phone => "phone",
            Channel::Open311 => "open311",
            Channel::Grid => "grid",
        }
    }
}

pub const TITLE_MAX: usize = 60;
pub const DESCRIPTION_MAX: usize = 2000;
pub const LOCATION_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct NewDemand {
    pub category: String,
    pub title: String,
    pub description: String,
    pub location: Option<String>,
    pub anonymous: bool,
}

/// Checks a new demand's text fields; the category's existence is checked
/// against the catalogue by the caller.
pub fn validate_new(
    category: &str,
    title: &str,
    description: &str,
    location: Option<&str>,
    anonymous: bool,
) -> Result<NewDemand, FieldErrors> {
    let mut e = FieldErrors::new();
    if category.trim().is_empty() {
        e.add("category", "请选择类别");
    }
    let title = e.take("title", text::required(title, 2, TITLE_MAX, "标题"));
    let description = e.take(
        "description",
        text::multiline(description, 5, DESCRIPTION_MAX, "详细描述"),
    );
    let location = e.take(
        "location",
        text::optional(location, LOCATION_MAX, "具体位置"),
    );
    if !e.is_empty() {
        return Err(e);
    }
    Ok(NewDemand {
        category: category.trim().to_string(),
        title: title.expect("checked"),
        description: description.expect("checked"),
        location: location.expect("checked"),
        anonymous,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn new_demand_checks() {
        let d = validate_new(
            "leak",
            " 楼上漏水 ",
            "卫生间顶棚漏水三天了",
            Some("1号楼1单元"),
            false,
        )
        .unwrap();
        assert_eq!(d.title, "楼上漏水");
        let e = validate_new("", "", "短", None, false).unwrap_err();
        for f in ["category", "title", "description"] {
            assert!(e.0.contains_key(f), "{f}");
        }
        assert!(validate_new(
            "leak",
            &"长".repeat(61),
            "卫生间顶棚漏水三天了",
            None,
            false
        )
        .is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for s in DemandStatus::ALL {
            assert_eq!(DemandStatus::parse(s.as_str()), Some(s));
        }
    }

    proptest! {
        #[test]
        fn validation_never_panics(t in "\\PC{0,80}", d in "\\PC{0,80}") {
            let _ = validate_new("leak", &t, &d, Some(&t), false);
        }
    }
}
