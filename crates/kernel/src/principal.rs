//! Who is calling, and the one scope check every handler uses.
//!
//! A role grant on an org node covers that node's whole subtree and nothing
//! else. A resident's scope is their own household(s). Objects outside the
//! caller's scope are answered with 404, exactly as missing ones.

use crate::error::AppError;
use crate::orgpath::OrgPath;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Resident,
    Butler,
    PropertyStaff,
    PropertyManager,
    PartyBranchSecretary,
    PartyGroupLeader,
    GridWorker,
    CommunityStaff,
    StreetAdmin,
    DistrictAdmin,
    CityAdmin,
    AgencyStaff,
    Expert,
    Auditor,
    /// 系统管理员: accounts and the org structure, no residents' data.
    Sysadmin,
    /// 安全管理员: role grants and security settings, no business data.
    Secadmin,
}

impl Role {
    pub const ALL: [Role; 16] = [
        Role::Resident,
        Role::Butler,
        Role::PropertyStaff,
        Role::PropertyManager,
        Role::PartyBranchSecretary,
        Role::PartyGroupLeader,
        Role::GridWorker,
        Role::CommunityStaff,
        Role::StreetAdmin,
        Role::DistrictAdmin,
        Role::CityAdmin,
        Role::AgencyStaff,
        Role::Expert,
        Role::Auditor,
        Role::Sysadmin,
        Role::Secadmin,
    ];

    /// 三权分立: an account holds at most one of these.
    pub const SEPARATED_DUTIES: &'static [Role] = &[Role::Sysadmin, Role::Secadmin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::Butler => "butler",
            Role::PropertyStaff => "property_staff",
            Role::PropertyManager => "property_manager",
            Role::PartyBranchSecretary => "party_branch_secretary",
            Role::PartyGroupLeader => "party_group_leader",
            Role::GridWorker => "grid_worker",
            Role::CommunityStaff => "community_staff",
            Role::StreetAdmin => "street_admin",
            Role::DistrictAdmin => "district_admin",
            Role::CityAdmin => "city_admin",
            Role::AgencyStaff => "agency_staff",
            Role::Expert => "expert",
            Role::Auditor => "auditor",
            Role::Sysadmin => "sysadmin",
            Role::Secadmin => "secadmin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Chinese label (the UI term).
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Resident => "居民",
            Role::Butler => "楼宇管家",
            Role::PropertyStaff => "物业人员",
            Role::PropertyManager => "物业经理",
            Role::PartyBranchSecretary => "党支部书记",
            Role::PartyGroupLeader => "楼宇党小组长",
            Role::GridWorker => "网格员",
            Role::CommunityStaff => "社区/村工作人员",
            Role::StreetAdmin => "街道/乡镇管理员",
            Role::DistrictAdmin => "区县管理员",
            Role::CityAdmin => "市级管理员",
            Role::AgencyStaff => "部门工作人员",
            Role::Expert => "评审专家",
            Role::Auditor => "审计员",
            Role::Sysadmin => "系统管理员",
            Role::Secadmin => "安全管理员",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Role::Resident => "Resident",
            Role::Butler => "Building butler",
            Role::PropertyStaff => "Property staff",
            Role::PropertyManager => "Property manager",
            Role::PartyBranchSecretary => "Party branch secretary",
            Role::PartyGroupLeader => "Building party group leader",
            Role::GridWorker => "Grid worker",
            Role::CommunityStaff => "Community / village staff",
            Role::StreetAdmin => "Street / township admin",
            Role::DistrictAdmin => "District / county admin",
            Role::CityAdmin => "City admin",
            Role::AgencyStaff => "Agency staff",
            Role::Expert => "Review expert",
            Role::Auditor => "Auditor",
            Role::Sysadmin => "System administrator",
            Role::Secadmin => "Security administrator",
        }
    }

    /// Roles that may edit the org registry (nodes, residents) in scope.
    pub const ORG_ADMINS: &'static [Role] = &[
        Role::CommunityStaff,
        Role::StreetAdmin,
        Role::DistrictAdmin,
        Role::CityAdmin,
    ];

    /// Staff who work on demands in their subtree (the auditor is not one:
    /// 三权分立, it reads the audit log and nothing else).
    pub const CASE_STAFF: &'static [Role] = &[
        Role::Butler,
        Role::PropertyStaff,
        Role::PropertyManager,
        Role::PartyBranchSecretary,
        Role::PartyGroupLeader,
        Role::GridWorker,
        Role::CommunityStaff,
        Role::StreetAdmin,
        Role::DistrictAdmin,
        Role::CityAdmin,
    ];

    /// Staff who may read residents' records in their subtree.
    pub const REGISTRY_READERS: &'static [Role] = &[
        Role::Butler,
        Role::PropertyStaff,
        Role::PropertyManager,
        Role::PartyBranchSecretary,
        Role::PartyGroupLeader,
        Role::GridWorker,
        Role::CommunityStaff,
        Role::StreetAdmin,
        Role::DistrictAdmin,
        Role::CityAdmin,
    ];
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Grant {
    pub role: Role,
    pub org_id: String,
    pub org_path: OrgPath,
}

/// A household the principal lives in (residents only).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HouseholdRef {
    pub id: String,
    pub org_path: OrgPath,
}

#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: String,
    pub display_name: String,
    pub grants: Vec<Grant>,
    pub households: Vec<HouseholdRef>,
    /// For cookie sessions, the CSRF token forms must echo.
    pub csrf_token: Option<String>,
    pub session_id: String,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    pub fn is_staff(&self) -> bool {
        self.grants.iter().any(|g| g.role != Role::Resident)
    }

    pub fn is_resident(&self) -> bool {
        !self.households.is_empty()
    }

    /// The subtree roots where the principal holds any of `roles`.
    pub fn roots_for(&self, roles: &[Role]) -> Vec<OrgPath> {
        let mut roots: Vec<OrgPath> = self
            .grants
            .iter()
            .filter(|g| roles.contains(&g.role))
            .map(|g| g.org_path.clone())
            .collect();
        roots.sort();
        // Drop roots already covered by a shorter one, so list queries stay small.
        let mut out: Vec<OrgPath> = Vec::new();
        for r in roots {
            if !out.iter().any(|o| r.is_within(o)) {
                out.push(r);
            }
        }
        out
    }

    /// Does a grant with one of `roles` cover `path`?
    pub fn covers(&self, roles: &[Role], path: &OrgPath) -> bool {
        self.grants
            .iter()
            .any(|g| roles.contains(&g.role) && path.is_within(&g.org_path))
    }

    /// Is this one of the principal's own households (or inside one)?
    pub fn lives_at(&self, path: &OrgPath) -> bool {
        self.households.iter().any(|h| path.is_within(&h.org_path))
    }

    /// The scope check for reading a place-bound record: staff with one of
    /// `roles` over the place, or the resident whose household it is.
    /// Out of scope is 404 — the caller cannot tell it from a missing record.
    pub fn can_see(&self, roles: &[Role], path: &OrgPath) -> Result<(), AppError> {
        if self.covers(roles, path) || self.lives_at(path) {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// Scope for acting: a record the caller can see but may not change is 403.
    pub fn can_act(&self, roles: &[Role], path: &OrgPath, visible: bool) -> Result<(), AppError> {
        if self.covers(roles, path) {
            Ok(())
        } else if visible {
            Err(AppError::Forbidden)
        } else {
            Err(AppError::NotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> OrgPath {
        OrgPath::parse(s).unwrap()
    }

    fn principal(grants: &[(Role, &str)], homes: &[&str]) -> Principal {
        Principal {
            user_id: "u".into(),
            display_name: "n".into(),
            grants: grants
                .iter()
                .map(|(r, path)| Grant {
                    role: *r,
                    org_id: "o".into(),
                    org_path: p(path),
                })
                .collect(),
            households: homes
                .iter()
                .map(|h| HouseholdRef {
                    id: "h".into(),
                    org_path: p(h),
                })
                .collect(),
            csrf_token: None,
            session_id: "s".into(),
        }
    }

    #[test]
    fn grant_covers_its_subtree_only() {
        let staff = principal(&[(Role::CommunityStaff, "/1/2/")], &[]);
        assert!(staff.covers(Role::CASE_STAFF, &p("/1/2/3/")));
        assert!(staff.covers(Role::CASE_STAFF, &p("/1/2/")));
        assert!(!staff.covers(Role::CASE_STAFF, &p("/1/")));
        assert!(!staff.covers(Role::CASE_STAFF, &p("/1/20/")));
        assert!(!staff.covers(&[Role::Butler], &p("/1/2/3/")));
    }

    #[test]
    fn resident_sees_only_home() {
        let r = principal(&[], &["/1/2/3/101/"]);
        assert!(r.can_see(Role::CASE_STAFF, &p("/1/2/3/101/")).is_ok());
        assert!(matches!(
            r.can_see(Role::CASE_STAFF, &p("/1/2/3/102/")),
            Err(AppError::NotFound)
        ));
    }

    #[test]
    fn roots_are_minimal() {
        let s = principal(
            &[
                (Role::CommunityStaff, "/1/2/"),
                (Role::Butler, "/1/2/3/"),
                (Role::Butler, "/9/"),
            ],
            &[],
        );
        let roots = s.roots_for(Role::CASE_STAFF);
        assert_eq!(roots, vec![p("/1/2/"), p("/9/")]);
    }

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }
}
