//! Pure rules of the registry: which kind of node may sit under which,
//! codes, grid codes, resident input. No IO.

use kernel::orgpath::is_valid_code;
use kernel::personal::{IdCardNumber, PhoneNumber};
use kernel::{text, FieldErrors};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    City,
    District,
    Street,
    Township,
    Community,
    Village,
    Agency,
    Compound,
    Building,
    Entrance,
    Household,
}

impl OrgKind {
    pub const ALL: [OrgKind; 11] = [
        OrgKind::City,
        OrgKind::District,
        OrgKind::Street,
        OrgKind::Township,
        OrgKind::Community,
        OrgKind::Village,
        OrgKind::Agency,
        OrgKind::Compound,
        OrgKind::Building,
        OrgKind::Entrance,
        OrgKind::Household,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::City => "city",
            OrgKind::District => "district",
            OrgKind::Street => "street",
            OrgKind::Township => "township",
            OrgKind::Community => "community",
            OrgKind::Village => "village",
            OrgKind::Agency => "agency",
            OrgKind::Compound => "compound",
            OrgKind::Building => "building",
            OrgKind::Entrance => "entrance",
            OrgKind::Household => "household",
        }
    }

    pub fn parse(s: &str) -> Option<OrgKind> {
        OrgKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (OrgKind::City, false) => "市",
            (OrgKind::District, false) => "区县",
            (OrgKind::Street, false) => "街道",
            (OrgKind::Township, false) => "乡镇",
            (OrgKind::Community, false) => "社区",
            (OrgKind::Village, false) => "村",
            (OrgKind::Agency, false) => "部门",
            (OrgKind::Compound, false) => "小区",
            (OrgKind::Building, false) => "楼栋",
            (OrgKind::Entrance, false) => "单元",
            (OrgKind::Household, false) => "户",
            (OrgKind::City, true) => "City",
            (OrgKind::District, true) => "District",
            (OrgKind::Street, true) => "Street",
            (OrgKind::Township, true) => "Township",
            (OrgKind::Community, true) => "Community",
            (OrgKind::Village, true) => "Village",
            (OrgKind::Agency, true) => "Agency",
            (OrgKind::Compound, true) => "Compound",
            (OrgKind::Building, true) => "Building",
            (OrgKind::Entrance, true) => "Entrance",
            (OrgKind::Household, true) => "Household",
        }
    }

    /// The kinds allowed directly under this kind. A village may hold
    /// households' buildings directly (rural 户 often sit in 组, modelled as
    /// compounds) and a compound may hold households of bungalows via a
    /// building; entrances are optional between building and household.
    pub fn allowed_children(self) -> &'static [OrgKind] {
        match self {
            OrgKind::City => &[OrgKind::District],
            OrgKind::District => &[OrgKind::Street, OrgKind::Township, OrgKind::Agency],
            OrgKind::Street => &[OrgKind::Community],
            OrgKind::Township => &[OrgKind::Community, OrgKind::Village],
            OrgKind::Community => &[OrgKind::Compound],
            OrgKind::Village => &[OrgKind::Compound, OrgKind::Building],
            OrgKind::Agency => &[],
            OrgKind::Compound => &[OrgKind::Building],
            OrgKind::Building => &[OrgKind::Entrance, OrgKind::Household],
            OrgKind::Entrance => &[OrgKind::Household],
            OrgKind::Household => &[],
        }
    }

    pub fn may_hold(self, child: OrgKind) -> bool {
        self.allowed_children().contains(&child)
    }

    /// Kinds that can be top-level nodes (a deployment's root).
    pub fn may_be_root(self) -> bool {
        matches!(self, OrgKind::City | OrgKind::District)
    }
}

#[derive(Debug, Clone)]
pub struct NewNode {
    pub kind: OrgKind,
    pub code: String,
    pub name: String,
}

/// Validates a node's fields; the parent's kind decides what may go under it.
pub fn validate_node(
    kind: &str,
    code: &str,
    name: &str,
    parent_kind: Option<OrgKind>,
) -> Result<NewNode, FieldErrors> {
    let mut e = FieldErrors::new();
    let k = OrgKind::parse(kind);
    match (k, parent_kind) {
        (None, _) => e.add("kind", "类型无效"),
        (Some(k), Some(pk)) if !pk.may_hold(k) => e.add(
            "kind",
            format!("{}下不能直接设立{}", pk.label(false), k.label(false)),
        ),
        (Some(k), None) if !k.may_be_root() => e.add("parent_id", "只有市或区县可以作为顶级节点"),
        _ => {}
    }
    let code = code.trim();
    if !is_valid_code(code) {
        e.add("code", "编码应为 1-32 位字母、数字、- 或 _");
    }
    let name = e.take("name", text::required(name, 1, 64, "名称"));
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(NewNode {
        kind: k.expect("checked"),
        code: code.to_string(),
        name: name.expect("checked"),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tenure {
    Owner,
    Tenant,
}

impl Tenure {
    pub fn as_str(self) -> &'static str {
        match self {
            Tenure::Owner => "owner",
            Tenure::Tenant => "tenant",
        }
    }
    pub fn parse(s: &str) -> Option<Tenure> {
        match s.trim() {
            "owner" | "业主" => Some(Tenure::Owner),
            "tenant" | "租户" => Some(Tenure::Tenant),
            _ => None,
        }
    }
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (Tenure::Owner, false) => "业主",
            (Tenure::Tenant, false) => "租户",
            (Tenure::Owner, true) => "Owner",
            (Tenure::Tenant, true) => "Tenant",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewResident {
    pub name: String,
    pub phone: Option<PhoneNumber>,
    pub id_card: Option<IdCardNumber>,
    pub tenure: Tenure,
    pub relation: Option<String>,
}

/// Parses a resident's fields (from JSON or an Excel row).
pub fn parse_resident(
    name: &str,
    phone: Option<&str>,
    id_card: Option<&str>,
    tenure: Option<&str>,
    relation: Option<&str>,
) -> Result<NewResident, FieldErrors> {
    let mut e = FieldErrors::new();
    let name = e.take("name", text::required(name, 1, 32, "姓名"));
    let phone = match phone.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(p) => e.take("phone", PhoneNumber::parse(p)),
    };
    let id_card = match id_card.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(i) => e.take("id_card", IdCardNumber::parse(i)),
    };
    let tenure = match tenure.map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(Tenure::Owner),
        Some(t) => {
            let v = Tenure::parse(t);
            if v.is_none() {
                e.add("tenure", "身份应为“业主”或“租户”");
            }
            v
        }
    };
    let relation = e
        .take("relation", text::optional(relation, 16, "与户主关系"))
        .flatten();
    if !e.is_empty() {
        return Err(e);
    }
    Ok(NewResident {
        name: name.expect("checked"),
        phone,
        id_card,
        tenure: tenure.expect("checked"),
        relation,
    })
}

/// Grid codes in the CJ/T 349 manner: the 12-digit code of the community or
/// village the grid lies in, then a 3-digit grid number (15 digits).
pub fn grid_code(area_code: &str, number: u32) -> Option<String> {
    (area_code.len() == 12
        && area_code.bytes().all(|b| b.is_ascii_digit())
        && (1..=999).contains(&number))
    .then(|| format!("{area_code}{number:03}"))
}

pub fn valid_grid_code(code: &str) -> bool {
    code.len() == 15 && code.bytes().all(|b| b.is_ascii_digit()) && &code[12..] != "000"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_shape_rules() {
        assert!(OrgKind::Compound.may_hold(OrgKind::Building));
        assert!(!OrgKind::Compound.may_hold(OrgKind::Household));
        assert!(OrgKind::Building.may_hold(OrgKind::Household));
        assert!(!OrgKind::Household.may_hold(OrgKind::Household));
        let e = validate_node("household", "101", "101室", Some(OrgKind::Compound)).unwrap_err();
        assert!(e.0.contains_key("kind"));
        assert!(validate_node("building", "B1", "1号楼", Some(OrgKind::Compound)).is_ok());
        let e = validate_node("building", "B/1", "", Some(OrgKind::Compound)).unwrap_err();
        assert!(e.0.contains_key("code") && e.0.contains_key("name"));
        assert!(validate_node("compound", "C1", "x", None).is_err());
    }

    #[test]
    fn residents_parse() {
        let r = parse_resident(
            "王勇",
            Some("13800000001"),
            Some("11010519491231002X"),
            Some("业主"),
            None,
        )
        .unwrap();
        assert_eq!(r.tenure, Tenure::Owner);
        let e = parse_resident(
            "",
            Some("123"),
            Some("110105194912310021"),
            Some("房东"),
            None,
        )
        .unwrap_err();
        for f in ["name", "phone", "id_card", "tenure"] {
            assert!(e.0.contains_key(f), "{f}");
        }
    }

    #[test]
    fn grid_codes() {
        assert_eq!(grid_code("141102003001", 7).unwrap(), "141102003001007");
        assert!(grid_code("1411", 1).is_none());
        assert!(valid_grid_code("141102003001007"));
        assert!(!valid_grid_code("141102003001000"));
    }
}
