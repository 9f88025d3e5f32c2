//! Keys are UUIDv7 (time-ordered, so B-tree inserts stay at the right edge),
//! stored as their canonical text in both databases.

use uuid::Uuid;

pub fn new_id() -> String {
    Uuid::now_v7().to_string()
}

/// Parses a client-supplied id; anything that is not a UUID is treated as
/// "no such object" by callers (404), never as a server error.
pub fn parse_id(s: &str) -> Option<String> {
    Uuid::parse_str(s).ok().map(|u| u.to_string())
}

/// A random token (session, CSRF) of 32 bytes, URL-safe base64.
pub fn random_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_and_ordered() {
        let a = new_id();
        let b = new_id();
        assert!(a < b, "{a} < {b}");
        assert_eq!(Uuid::parse_str(&a).unwrap().get_version_num(), 7);
    }

    #[test]
    fn parse_id_rejects_garbage() {
        assert!(parse_id("x").is_none());
        assert!(parse_id("../../etc").is_none());
        let id = new_id();
        assert_eq!(parse_id(&id).as_deref(), Some(id.as_str()));
    }
}
