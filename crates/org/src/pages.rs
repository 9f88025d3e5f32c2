//! `/org` pages: browse the tree from the caller's scope down to households.

use crate::api::visible_node;
use crate::model::OrgKind;
use crate::store::{self, NodeRow, ResidentRow};
use accounts::Auth;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use kernel::i18n::Lang;
use kernel::shell::{render, Shell};
use kernel::{Ctx, Role};

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/org", get(index))
        .route("/org/{id}", get(node_page))
}

pub struct NodeItem {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub code: String,
}

fn item(n: NodeRow, lang: Lang) -> NodeItem {
    NodeItem {
        kind: n.kind.label(lang == Lang::En),
        id: n.id,
        name: n.name,
        code: n.code,
    }
}

pub struct ResidentItem {
    pub name: String,
    pub phone: String,
    pub tenure: &'static str,
}

#[derive(Template)]
#[template(path = "org_node.html")]
struct NodePage {
    shell: Shell,
    node: Option<NodeItem>,
    path: String,
    crumbs: Vec<NodeItem>,
    children: Vec<NodeItem>,
    residents: Vec<ResidentItem>,
    is_household: bool,
    can_export: bool,
    /// Staff who may import residents into this compound.
    can_import: bool,
}

async fn index(State(ctx): State<Ctx>, lang: Lang, Auth(p): Auth) -> Response {
    let roots = p.roots_for(Role::REGISTRY_READERS);
    let mut children = Vec::new();
    for r in roots.iter().chain(p.households.iter().map(|h| &h.org_path)) {
        if let Ok(Some(n)) = store::get_node_by_path(&ctx.db, r.as_str()).await {
            children.push(item(n, lang));
        }
    }
    render(&NodePage {
        shell: Shell::new(lang, "org.title", "org", Some(&p)),
        node: None,
        path: String::new(),
        crumbs: vec![],
        children,
        residents: vec![],
        is_household: false,
        can_export: false,
        can_import: false,
    })
}

async fn node_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Response {
    let node = match visible_node(&ctx, &p, &id).await {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    let result = async {
        let roots: Vec<_> = p.roots_for(Role::REGISTRY_READERS);
        let mut crumbs: Vec<NodeItem> = store::ancestors(&ctx.db, &node.org_path)
            .await?
            .into_iter()
            .filter(|a| {
                a.id != node.id
                    && (roots.iter().any(|r| a.org_path.is_within(r)) || p.lives_at(&a.org_path))
            })
            .map(|a| item(a, lang))
            .collect();
        crumbs.truncate(12);
        let children = store::children(&ctx.db, &node.id)
            .await?
            .into_iter()
            .map(|c| item(c, lang))
            .collect();
        let residents: Vec<ResidentRow> = if node.kind == OrgKind::Household {
            store::residents_of(&ctx.db, &ctx.cipher, &node.id).await?
        } else {
            vec![]
        };
        Ok::<_, kernel::AppError>((crumbs, children, residents))
    }
    .await;
    let (crumbs, children, residents) = match result {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let en = lang == Lang::En;
    let is_household = node.kind == OrgKind::Household;
    let can_export = p.covers(Role::REGISTRY_READERS, &node.org_path);
    let can_import = crate::import_job::may_import(&p, &node);
    let path = node.org_path.as_str().to_string();
    let title = node.name.clone();
    render(&NodePage {
        shell: Shell::new(lang, "org.title", "org", Some(&p)).with_title(title),
        node: Some(item(node, lang)),
        path,
        crumbs,
        children,
        residents: residents
            .into_iter()
            .map(|r| ResidentItem {
                name: r.name,
                phone: r
                    .phone
                    .as_deref()
                    .map(kernel::mask::phone)
                    .unwrap_or_default(),
                tenure: r.tenure.label(en),
            })
            .collect(),
        is_household,
        can_export,
        can_import,
    })
}
