//! JSON written by hand into one buffer, for the hottest answers.
//!
//! serde_json escapes every string it writes, the keys of a struct
//! included, one byte at a time (`format_escaped_str` was a twentieth of a
//! city list's samples: a page of twenty demands writes some 520 keys and
//! 240 strings). Here a key is written as the constant it is, and a value's
//! text is scanned eight bytes at a time for the three things JSON must
//! escape. The bytes are serde_json's own: the same escapes (`\"`, `\\`,
//! `\b \f \n \r \t`, `\u00xx` in lower-case hex), the same numbers, no
//! spaces — a property test holds [`JsonWriter::str`] to
//! `serde_json::to_string`.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// A JSON text under construction. The caller writes the punctuation and
/// keys with [`JsonWriter::raw`] and the values with the typed methods.
pub struct JsonWriter {
    buf: Vec<u8>,
}

impl JsonWriter {
    /// A writer with room for `capacity` bytes (a good guess saves the
    /// copies of a growing buffer).
    pub fn with_capacity(capacity: usize) -> JsonWriter {
        JsonWriter {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// Trusted JSON as it is: punctuation and keys the caller spells out,
    /// such as `b",\"title\":"`.
    pub fn raw(&mut self, json: &[u8]) {
        self.buf.extend_from_slice(json);
    }

    /// A string value, quoted and escaped.
    pub fn str(&mut self, s: &str) {
        self.buf.push(b'"');
        escape_into(&mut self.buf, s.as_bytes());
        self.buf.push(b'"');
    }

    /// A string value, or `null`.
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    /// An integer value.
    pub fn int(&mut self, v: i64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    /// An integer value, or `null`.
    pub fn opt_int(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    pub fn bool(&mut self, v: bool) {
        self.raw(if v { b"true" } else { b"false" });
    }

    pub fn null(&mut self) {
        self.raw(b"null");
    }

    /// The text written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// A finished text answers as `application/json`, as `axum::Json` does.
impl IntoResponse for JsonWriter {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.buf,
        )
            .into_response()
    }
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes of `w` is a control character (below
/// 0x20), a quote or a backslash: the bytes JSON escapes. Exact (no false
/// positives): the borrow of a subtraction only reaches a byte above one
/// that already matched.
fn needs_escape(w: u64) -> bool {
    let below_space = w.wrapping_sub(LOW_BITS * 0x20) & !w;
    let q = w ^ (LOW_BITS * u64::from(b'"'));
    let quote = q.wrapping_sub(LOW_BITS) & !q;
    let b = w ^ (LOW_BITS * u64::from(b'\\'));
    let backslash = b.wrapping_sub(LOW_BITS) & !b;
    (below_space | quote | backslash) & HIGH_BITS != 0
}

/// Appends `s` escaped as JSON string contents (without the quotes).
pub fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    let mut clean = 0; // s[..clean] is copied or known to need nothing
    let mut i = 0;
    while i < s.len() {
        if i + 8 <= s.len() {
            let word = u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or([0; 8]));
            if !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        // A word with something to escape, or the tail: byte by byte.
        let end = (i + 8).min(s.len());
        while i < end {
            let c = s[i];
            let short = match c {
                b'"' => Some(b'"'),
                b'\\' => Some(b'\\'),
                0x08 => Some(b'b'),
                0x0c => Some(b'f'),
                b'\n' => Some(b'n'),
                b'\r' => Some(b'r'),
                b'\t' => Some(b't'),
                _ => None,
            };
            if short.is_some() || c < 0x20 {
                out.extend_from_slice(&s[clean..i]);
                match short {
                    Some(e) => out.extend_from_slice(&[b'\\', e]),
                    None => {
                        const HEX: &[u8; 16] = b"0123456789abcdef";
                        out.extend_from_slice(&[
                            b'\\',
                            b'u',
                            b'0',
                            b'0',
                            HEX[usize::from(c >> 4)],
                            HEX[usize::from(c & 0xf)],
                        ]);
                    }
                }
                clean = i + 1;
            }
            i += 1;
        }
    }
    out.extend_from_slice(&s[clean..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(s: &str) -> String {
        let mut w = JsonWriter::with_capacity(0);
        w.str(s);
        String::from_utf8(w.into_bytes()).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in [
            "",
            "楼上卫生间渗水到我家天花板,请尽快安排维修。",
            "a\"b\\c\nd\re\tf\u{8}g\u{c}h\u{1}i\u{1f}j\u{7f}k",
            "\"\"\"\"\"\"\"\"\"",
            "0123456\"",
            "01234567\u{0}",
            "/141100/141102/141102001/",
        ] {
            assert_eq!(written(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn every_byte_is_judged_as_serde_json_judges_it() {
        // Each ASCII byte at each position of a word, and in the tail.
        for c in 0u8..0x80 {
            for at in 0..17 {
                let mut s = "x".repeat(17);
                s.replace_range(at..at + 1, std::str::from_utf8(&[c]).unwrap());
                assert_eq!(
                    written(&s),
                    serde_json::to_string(&s).unwrap(),
                    "{c:#x} at {at}"
                );
            }
        }
    }

    #[test]
    fn numbers_and_literals_are_serde_json_s() {
        for v in [0, 1, -1, 42, i64::MAX, i64::MIN, 1_792_486_400_000] {
            let mut w = JsonWriter::with_capacity(0);
            w.int(v);
            assert_eq!(w.as_bytes(), serde_json::to_string(&v).unwrap().as_bytes());
        }
        let mut w = JsonWriter::with_capacity(0);
        w.raw(b"[");
        w.bool(true);
        w.raw(b",");
        w.bool(false);
        w.raw(b",");
        w.opt_int(None);
        w.raw(b",");
        w.opt_str(None);
        w.raw(b",");
        w.opt_str(Some("ok"));
        w.raw(b"]");
        assert_eq!(w.as_bytes(), br#"[true,false,null,null,"ok"]"#);
    }

    proptest! {
        #[test]
        fn any_string_is_escaped_as_serde_json_escapes_it(s in "\\PC*|[\\x00-\\x7f]{0,40}|.{0,40}") {
            prop_assert_eq!(written(&s), serde_json::to_string(&s).unwrap());
        }
    }
}
