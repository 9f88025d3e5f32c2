//! `GET /api/v1/insight/rates`: the six indicators of DESIGN.md §3 for an
//! org node (default: the caller's whole scope) and a date range, optionally
//! grouped by the node's children or by assignee. See [`crate::rates`] for
//! the formulas and what each count counts.

use crate::rates::{self, Counts, Period, Rates};
use accounts::Auth;
use axum::extract::State;
use axum::routing::get;
use axum::{Json as JsonOut, Router};
use kernel::json::Query;
use kernel::openapi::{Forbidden, NotFound, QueryErrors, Unauthorized};
use kernel::{AppError, AppResult, Ctx, FieldErrors, OrgPath, Principal, Role};
use org::store::NodeRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<Ctx> {
    Router::new().route("/api/v1/insight/rates", get(rates_handler))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RatesQuery {
    /// An org node id (default: the caller's whole scope).
    pub org: Option<String>,
    /// First day, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (inclusive).
    #[param(format = Date)]
    pub to: Option<String>,
    /// `children` (the node's children; needs `org`) or `assignee`.
    pub group_by: Option<String>,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
pub struct OrgRef {
    pub id: String,
    pub name: String,
    pub org_path: String,
}

impl From<&NodeRow> for OrgRef {
    fn from(n: &NodeRow) -> Self {
        OrgRef {
            id: n.id.clone(),
            name: n.name.clone(),
            org_path: n.org_path.as_str().to_string(),
        }
    }
}

#[derive(Serialize, Debug, ToSchema)]
pub struct RatesGroup {
    /// The child node's id, or the assignee's user id.
    pub key: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_path: Option<String>,
    #[serde(flatten)]
    pub rates: Rates,
}

#[derive(Serialize, Debug, ToSchema)]
pub struct RatesView {
    /// The node asked for; without `org`, the node of the caller's scope
    /// when it is a single subtree, else null.
    pub org: Option<OrgRef>,
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub rates: Rates,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<RatesGroup>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GroupBy {
    Children,
    Assignee,
}

/// The scope of the indicators: staff subtrees where the caller works on
/// demands (residents, the auditor and others without a case role → 403).
fn staff_roots(p: &Principal) -> AppResult<Vec<OrgPath>> {
    let roots = p.roots_for(Role::CASE_STAFF);
    if roots.is_empty() {
        Err(AppError::Forbidden)
    } else {
        Ok(roots)
    }
}

/// `roots` narrowed to `node`'s subtree (the node lies within some root, or
/// roots lie within the node).
fn narrow(roots: &[OrgPath], node: &OrgPath) -> Vec<OrgPath> {
    let mut out: Vec<OrgPath> = Vec::new();
    for r in roots {
        let part = if node.is_within(r) {
            node.clone()
        } else if r.is_within(node) {
            r.clone()
        } else {
            continue;
        };
        if !out.contains(&part) {
            out.push(part);
        }
    }
    out
}

/// Computes the view for the caller (shared with the dashboard page).
pub async fn rates_for(ctx: &Ctx, p: &Principal, q: &RatesQuery) -> AppResult<RatesView> {
    let roots = staff_roots(p)?;
    let mut errors = FieldErrors::new();
    let period = match Period::parse(q.from.as_deref(), q.to.as_deref()) {
        Ok(p) => Some(p),
        Err(AppError::Validation(f)) => {
            for (k, v) in f.0 {
                for m in v {
                    errors.add(k.clone(), m);
                }
            }
            None
        }
        Err(e) => return Err(e),
    };
    let group_by = match q.group_by.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("children") => Some(GroupBy::Children),
        Some("assignee") => Some(GroupBy::Assignee),
        Some(_) => {
            errors.add("group_by", "分组方式只能是 children 或 assignee");
            None
        }
    };
    errors.check()?;
    let period = period.expect("checked");

    let (node, roots) = match q.org.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => {
            let node = org::api::visible_node(ctx, p, id).await?;
            let narrowed = narrow(&roots, &node.org_path);
            if narrowed.is_empty() {
                // Visible (e.g. as a registry reader) but not a case scope.
                return Err(AppError::NotFound);
            }
            (Some(node), narrowed)
        }
        None => {
            let node = match roots.as_slice() {
                [only] => org::store::get_node_by_path(&ctx.db, only.as_str()).await?,
                _ => None,
            };
            (node, roots)
        }
    };

    let counts: Counts = rates::compute(&ctx.db, &roots, &period).await?;
    let groups = match group_by {
        None => None,
        Some(GroupBy::Children) => {
            let Some(n) = &node else {
                return Err(AppError::field("org", "按下级分组时请指定组织"));
            };
            Some(
                rates::by_children(&ctx.db, n, &roots, &period)
                    .await?
                    .into_iter()
                    .map(|(child, c)| RatesGroup {
                        key: child.id,
                        name: child.name,
                        org_path: Some(child.org_path.as_str().to_string()),
                        rates: rates::rates_from(&c),
                    })
                    .collect(),
            )
        }
        Some(GroupBy::Assignee) => Some(
            rates::by_assignee(&ctx.db, &roots, &period)
                .await?
                .into_iter()
                .map(|(id, name, c)| RatesGroup {
                    key: id,
                    name,
                    org_path: None,
                    rates: rates::rates_from(&c),
                })
                .collect(),
        ),
    };
    Ok(RatesView {
        org: node.as_ref().map(OrgRef::from),
        from: q.from.as_deref().unwrap_or_default().trim().to_string(),
        to: q.to.as_deref().unwrap_or_default().trim().to_string(),
        rates: rates::rates_from(&counts),
        groups,
    })
}

/// The six indicators (fractions 0–1) with the counts behind them, for a
/// node and a date range, optionally grouped (DESIGN.md §3).
#[utoipa::path(
    get,
    path = "/api/v1/insight/rates",
    operation_id = "insight_rates",
    tag = "insight",
    summary = "六率指标(响应率、解决率、满意率、结案率、按期结案率、返工率)",
    params(RatesQuery),
    responses(
        (status = 200, description = "指标", body = RatesView),
        QueryErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn rates_handler(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<RatesQuery>,
) -> AppResult<JsonOut<RatesView>> {
    Ok(JsonOut(rates_for(&ctx, &p, &q).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> OrgPath {
        OrgPath::parse(s).unwrap()
    }

    #[test]
    fn narrowing_keeps_the_overlap() {
        let roots = [p("/1/2/"), p("/9/")];
        assert_eq!(narrow(&roots, &p("/1/2/3/")), vec![p("/1/2/3/")]);
        assert_eq!(narrow(&roots, &p("/1/")), vec![p("/1/2/")]);
        assert!(narrow(&roots, &p("/5/")).is_empty());
    }
}
