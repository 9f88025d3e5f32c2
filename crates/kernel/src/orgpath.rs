//! Materialized org paths: `/141100/141102/141102001/…/`, one segment per
//! node code, always with a trailing slash. A subtree is then a half-open
//! string range `[p, p with its last '/' bumped to '0')` that a B-tree index
//! serves, and a scope check is one prefix comparison.

use serde::{Deserialize, Serialize};

/// Documented as a string, e.g. `/141100/141102/`.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = String, example = "/141100/141102/141102001/")]
pub struct OrgPath(String);

impl OrgPath {
    pub fn root() -> Self {
        OrgPath("/".into())
    }

    /// Accepts only well-formed stored paths.
    pub fn parse(s: &str) -> Option<Self> {
        if !s.starts_with('/') || !s.ends_with('/') {
            return None;
        }
        if s == "/" {
            return Some(Self::root());
        }
        let inner = &s[1..s.len() - 1];
        if inner.split('/').all(is_valid_code) {
            Some(OrgPath(s.to_string()))
        } else {
            None
        }
    }

    /// Trusted value read back from the database.
    pub fn from_db(s: String) -> Self {
        OrgPath(s)
    }

    pub fn child(&self, code: &str) -> Self {
        OrgPath(format!("{}{}/", self.0, code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn depth(&self) -> usize {
        self.0.matches('/').count() - 1
    }

    pub fn parent(&self) -> Option<Self> {
        if self.0 == "/" {
            return None;
        }
        let trimmed = &self.0[..self.0.len() - 1];
        let cut = trimmed.rfind('/')?;
        Some(OrgPath(trimmed[..=cut].to_string()))
    }

    /// Every ancestor from the root's first level down to self.
    pub fn ancestors_and_self(&self) -> Vec<OrgPath> {
        let mut out = Vec::new();
        let mut acc = String::from("/");
        for seg in self.0.split('/').filter(|s| !s.is_empty()) {
            acc.push_str(seg);
            acc.push('/');
            out.push(OrgPath(acc.clone()));
        }
        out
    }

    /// True when `self` is `ancestor` or lies under it.
    pub fn is_within(&self, ancestor: &OrgPath) -> bool {
        self.0.starts_with(&ancestor.0)
    }

    /// Exclusive upper bound of the subtree range (`'/'` + 1 = `'0'`).
    pub fn subtree_end(&self) -> String {
        let mut s = self.0.clone();
        s.pop();
        s.push('0');
        s
    }
}

impl std::fmt::Display for OrgPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Node codes: 1–32 ASCII letters, digits, '-' or '_' (no '/' so paths
/// stay unambiguous, nothing that sorts below '/' so ranges stay exact).
pub fn is_valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 32
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Binds `(org_path >= root AND org_path < end)` for each root, starting at
/// placeholder `$first`; returns the SQL fragment.
pub fn scope_sql(column: &str, roots: usize, first: usize) -> String {
    if roots == 0 {
        return "1 = 0".into();
    }
    let parts: Vec<String> = (0..roots)
        .map(|i| {
            format!(
                "({column} >= ${} AND {column} < ${})",
                first + 2 * i,
                first + 2 * i + 1
            )
        })
        .collect();
    format!("({})", parts.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_and_navigate() {
        let p = OrgPath::parse("/141100/141102/C01/").unwrap();
        assert_eq!(p.depth(), 3);
        assert_eq!(p.parent().unwrap().as_str(), "/141100/141102/");
        assert_eq!(p.child("B1").as_str(), "/141100/141102/C01/B1/");
        assert_eq!(p.subtree_end(), "/141100/141102/C010");
        assert_eq!(p.ancestors_and_self().len(), 3);
        assert!(OrgPath::parse("/a//").is_none());
        assert!(OrgPath::parse("/a/b").is_none());
        assert!(OrgPath::parse("/a b/").is_none());
    }

    #[test]
    fn sibling_with_common_prefix_is_not_within() {
        let a = OrgPath::parse("/1/C01/").unwrap();
        let b = OrgPath::parse("/1/C011/").unwrap();
        assert!(!b.is_within(&a));
        assert!(a.child("x").is_within(&a));
    }

    fn code() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{1,6}"
    }

    proptest! {
        /// The string range and the prefix test always agree, so SQL range
        /// scans and Rust scope checks can never disagree about a subtree.
        #[test]
        fn range_matches_prefix(a in proptest::collection::vec(code(), 1..4),
                                b in proptest::collection::vec(code(), 1..5)) {
            let mut pa = OrgPath::root();
            for c in &a { pa = pa.child(c); }
            let mut pb = OrgPath::root();
            for c in &b { pb = pb.child(c); }
            let in_range = pb.as_str() >= pa.as_str() && pb.as_str() < pa.subtree_end().as_str();
            prop_assert_eq!(in_range, pb.is_within(&pa));
        }
    }
}
