//! Field encryption for sensitive personal data (身份证号, phone, health,
//! party membership): AES-256-GCM, or SM4-GCM for 密评 deployments (GB/T
//! 32907 block cipher in GCM mode), with a random nonce per value, plus a
//! keyed blind index so an exact match can be found without storing the
//! plaintext: HMAC-SHA256, or HMAC-SM3 (GB/T 32905 hash) when SM4 is
//! selected. All keys are derived from one master key.
//!
//! Blind index form: 64 hex digits (HMAC-SHA256, the first form), or
//! `sm3:<64 hex digits>` (HMAC-SM3). The tag tells which algorithm a stored
//! index was computed with, so a database whose indexes do not match the
//! configured `field_cipher` is recognised ([`FieldCipher::index_is_current`])
//! and `lianxin rotate-key` recomputes them.
//!
//! Stored form: `v2:<algorithm>:<key id>:<base64(nonce || ciphertext+tag)>`,
//! the key id being a fingerprint of the master key, so values under
//! another key or algorithm are told apart (mixed data during a rotation,
//! a switch of algorithm). The first form, `v1:<base64>`, is AES-256-GCM
//! under the current key and is still read.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, AesGcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::sync::Arc;

type HmacSha256 = Hmac<Sha256>;
type HmacSm3 = Hmac<sm3::Sm3>;
/// The tag of blind indexes computed with HMAC-SM3.
pub const SM3_INDEX_TAG: &str = "sm3:";
/// SM4 (GB/T 32907-2016) in GCM mode with a 96-bit nonce.
pub type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

const PREFIX_V1: &str = "v1:";

/// The AEAD a deployment writes new values with (config `field_cipher`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Algorithm {
    #[default]
    Aes256Gcm,
    Sm4Gcm,
}

impl Algorithm {
    pub fn parse(s: &str) -> Option<Algorithm> {
        match s.trim() {
            "aes-256-gcm" => Some(Algorithm::Aes256Gcm),
            "sm4-gcm" => Some(Algorithm::Sm4Gcm),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Aes256Gcm => "aes-256-gcm",
            Algorithm::Sm4Gcm => "sm4-gcm",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Algorithm::Aes256Gcm => "a256",
            Algorithm::Sm4Gcm => "sm4",
        }
    }

    fn from_tag(t: &str) -> Option<Algorithm> {
        match t {
            "a256" => Some(Algorithm::Aes256Gcm),
            "sm4" => Some(Algorithm::Sm4Gcm),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct FieldCipher {
    inner: Arc<Inner>,
}

struct Inner {
    aes: Aes256Gcm,
    sm4: Sm4Gcm,
    algorithm: Algorithm,
    key_id: String,
    index_key: [u8; 32],
    sm3_index_key: [u8; 32],
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldCipher(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the field key must be 64 hex characters (32 bytes)")]
    BadKey,
}

impl FieldCipher {
    /// From the configured master key: 64 hex characters (AES-256-GCM).
    pub fn from_hex(master_hex: &str) -> Result<FieldCipher, KeyError> {
        Self::from_hex_with(master_hex, Algorithm::Aes256Gcm)
    }

    /// From the master key, writing new values with `algorithm`.
    pub fn from_hex_with(master_hex: &str, algorithm: Algorithm) -> Result<FieldCipher, KeyError> {
        let bytes = hex::decode(master_hex.trim()).map_err(|_| KeyError::BadKey)?;
        let master: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadKey)?;
        Ok(Self::from_master_with(&master, algorithm))
    }

    pub fn from_master(master: &[u8; 32]) -> FieldCipher {
        Self::from_master_with(master, Algorithm::Aes256Gcm)
    }

    pub fn from_master_with(master: &[u8; 32], algorithm: Algorithm) -> FieldCipher {
        let enc_key = derive(master, b"lianxin/field-encryption/v1");
        let sm4_key = derive(master, b"lianxin/field-encryption/sm4/v1");
        let index_key = derive(master, b"lianxin/blind-index/v1");
        let sm3_index_key = hmac_sm3(master, b"lianxin/blind-index/sm3/v1");
        let key_id = hex::encode(&derive(master, b"lianxin/key-id/v1")[..4]);
        FieldCipher {
            inner: Arc::new(Inner {
                aes: Aes256Gcm::new_from_slice(&enc_key).expect("32-byte key"),
                sm4: Sm4Gcm::new_from_slice(&sm4_key[..16]).expect("16-byte key"),
                algorithm,
                key_id,
                index_key,
                sm3_index_key,
            }),
        }
    }

    /// A fresh random master key, hex-encoded (for `demo` and the template).
    pub fn generate_hex() -> String {
        let mut k = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut k);
        hex::encode(k)
    }

    pub fn algorithm(&self) -> Algorithm {
        self.inner.algorithm
    }

    /// The master key's fingerprint carried in every value (not secret).
    pub fn key_id(&self) -> &str {
        &self.inner.key_id
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        self.encrypt_with_nonce(plaintext, nonce)
    }

    /// Encrypts with a nonce the caller chose: only for generators that must
    /// reproduce the same rows from the same seed (`lianxin seed`). The
    /// nonce must still be unique per value under one key.
    pub fn encrypt_with_nonce(&self, plaintext: &str, nonce: [u8; 12]) -> String {
        let n = Nonce::from_slice(&nonce);
        let ct = match self.inner.algorithm {
            Algorithm::Aes256Gcm => self.inner.aes.encrypt(n, plaintext.as_bytes()),
            Algorithm::Sm4Gcm => self.inner.sm4.encrypt(n, plaintext.as_bytes()),
        }
        .expect("GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        format!(
            "v2:{}:{}:{}",
            self.inner.algorithm.tag(),
            self.inner.key_id,
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        )
    }

    /// None when the value was not produced by this key (tampered or wrong key).
    pub fn decrypt(&self, stored: &str) -> Option<String> {
        let (algorithm, b64) = if let Some(b64) = stored.strip_prefix(PREFIX_V1) {
            (Algorithm::Aes256Gcm, b64)
        } else {
            let rest = stored.strip_prefix("v2:")?;
            let mut parts = rest.splitn(3, ':');
            let algorithm = Algorithm::from_tag(parts.next()?)?;
            if parts.next()? != self.inner.key_id {
                return None;
            }
            (algorithm, parts.next()?)
        };
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let n = Nonce::from_slice(nonce);
        let pt = match algorithm {
            Algorithm::Aes256Gcm => self.inner.aes.decrypt(n, ct),
            Algorithm::Sm4Gcm => self.inner.sm4.decrypt(n, ct),
        }
        .ok()?;
        String::from_utf8(pt).ok()
    }

    /// Deterministic keyed index of a normalised value; `kind` separates
    /// domains so a phone and an ID with equal digits never collide.
    /// HMAC-SHA256 (64 hex digits) under AES-256-GCM; HMAC-SM3, tagged
    /// `sm3:`, under SM4-GCM (密评: SM-series algorithms throughout).
    pub fn blind_index(&self, kind: &str, value: &str) -> String {
        let mut msg = Vec::with_capacity(kind.len() + 1 + value.len());
        msg.extend_from_slice(kind.as_bytes());
        msg.push(0);
        msg.extend_from_slice(value.as_bytes());
        match self.inner.algorithm {
            Algorithm::Aes256Gcm => {
                let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.inner.index_key)
                    .expect("HMAC takes any key size");
                mac.update(&msg);
                hex::encode(mac.finalize().into_bytes())
            }
            Algorithm::Sm4Gcm => format!(
                "{SM3_INDEX_TAG}{}",
                hex::encode(hmac_sm3(&self.inner.sm3_index_key, &msg))
            ),
        }
    }

    /// Was this stored blind index computed with this cipher's index
    /// algorithm? (Not whether with this key: a key change shows in the
    /// values' key ids.)
    pub fn index_is_current(&self, stored: &str) -> bool {
        match self.inner.algorithm {
            Algorithm::Aes256Gcm => !stored.contains(':'),
            Algorithm::Sm4Gcm => stored.starts_with(SM3_INDEX_TAG),
        }
    }
}

/// HMAC-SM3 (RFC 2104 over the GB/T 32905-2016 hash).
pub fn hmac_sm3(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSm3 as Mac>::new_from_slice(key).expect("HMAC takes any key size");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The SM3 hash (GB/T 32905-2016), hex.
pub fn sm3_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sm3::Sm3::digest(data))
}

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).expect("HMAC takes any key size");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> FieldCipher {
        FieldCipher::from_hex(&"11".repeat(32)).unwrap()
    }

    #[test]
    fn round_trip_and_randomised() {
        let c = cipher();
        let a = c.encrypt("13800000001");
        let b = c.encrypt("13800000001");
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(!a.contains("13800000001"));
        assert_eq!(c.decrypt(&a).unwrap(), "13800000001");
    }

    fn payload(stored: &str) -> (String, Vec<u8>) {
        let cut = stored.rfind(':').unwrap() + 1;
        (
            stored[..cut].to_string(),
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(&stored[cut..])
                .unwrap(),
        )
    }

    #[test]
    fn tamper_and_wrong_key_fail() {
        for alg in [Algorithm::Aes256Gcm, Algorithm::Sm4Gcm] {
            let c = FieldCipher::from_hex_with(&"11".repeat(32), alg).unwrap();
            let stored = c.encrypt("secret");
            let (head, mut raw) = payload(&stored);
            // Flip one bit of every byte position in turn: GCM's tag catches each.
            for i in 0..raw.len() {
                raw[i] ^= 1;
                let tampered = format!(
                    "{head}{}",
                    base64::engine::general_purpose::STANDARD_NO_PAD.encode(&raw)
                );
                assert!(c.decrypt(&tampered).is_none(), "{alg:?} flipped byte {i}");
                raw[i] ^= 1;
            }
            let other = FieldCipher::from_hex_with(&"22".repeat(32), alg).unwrap();
            assert!(other.decrypt(&stored).is_none());
        }
    }

    #[test]
    fn values_carry_algorithm_and_key_and_mixed_data_reads() {
        let aes = FieldCipher::from_hex(&"11".repeat(32)).unwrap();
        let sm4 = FieldCipher::from_hex_with(&"11".repeat(32), Algorithm::Sm4Gcm).unwrap();
        let a = aes.encrypt("13800000001");
        let s = sm4.encrypt("13800000001");
        assert!(a.starts_with(&format!("v2:a256:{}:", aes.key_id())), "{a}");
        assert!(s.starts_with(&format!("v2:sm4:{}:", sm4.key_id())), "{s}");
        // Either cipher over the same master key reads both forms.
        for c in [&aes, &sm4] {
            assert_eq!(c.decrypt(&a).as_deref(), Some("13800000001"));
            assert_eq!(c.decrypt(&s).as_deref(), Some("13800000001"));
        }
        // The first stored form (v1: AES-256-GCM, no tag) is still read.
        let mut nonce = [7u8; 12];
        nonce[0] = 1;
        let ct = aes
            .inner
            .aes
            .encrypt(Nonce::from_slice(&nonce), b"old".as_slice())
            .unwrap();
        let v1 = format!(
            "v1:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode([nonce.to_vec(), ct].concat())
        );
        assert_eq!(sm4.decrypt(&v1).as_deref(), Some("old"));
        // A value under another key is not mistaken for ours.
        let other = FieldCipher::from_hex(&"22".repeat(32)).unwrap();
        assert_ne!(other.key_id(), aes.key_id());
        assert!(aes.decrypt(&other.encrypt("x")).is_none());
        assert_eq!(Algorithm::parse("sm4-gcm"), Some(Algorithm::Sm4Gcm));
        assert_eq!(Algorithm::parse("aes-256-gcm"), Some(Algorithm::Aes256Gcm));
        assert_eq!(Algorithm::parse("des"), None);
    }

    /// GB/T 32907-2016 Appendix A, example 1: the SM4 block cipher itself.
    #[test]
    fn sm4_known_answer_gb_t_32907() {
        use aes_gcm::aead::generic_array::GenericArray;
        use sm4::cipher::{BlockDecrypt, BlockEncrypt};
        let key = hex::decode("0123456789abcdeffedcba9876543210").unwrap();
        let plain = hex::decode("0123456789abcdeffedcba9876543210").unwrap();
        let cipher = sm4::Sm4::new_from_slice(&key).unwrap();
        let mut block = GenericArray::clone_from_slice(&plain);
        cipher.encrypt_block(&mut block);
        assert_eq!(hex::encode(block), "681edf34d206965e86b3e94f536e4246");
        cipher.decrypt_block(&mut block);
        assert_eq!(block.as_slice(), plain.as_slice());
        // Example 2: 1,000,000 encryptions of the same block.
        let mut block = GenericArray::clone_from_slice(&plain);
        for _ in 0..1_000_000 {
            cipher.encrypt_block(&mut block);
        }
        assert_eq!(hex::encode(block), "595298c7c6fd271f0402f804c33d3f66");
    }

    #[test]
    fn sm4_gcm_round_trip() {
        let c = FieldCipher::from_hex_with(&"11".repeat(32), Algorithm::Sm4Gcm).unwrap();
        let a = c.encrypt("14110219850312001X");
        let b = c.encrypt("14110219850312001X");
        assert_ne!(a, b);
        assert!(!a.contains("14110219850312001X"));
        assert_eq!(c.decrypt(&a).as_deref(), Some("14110219850312001X"));
    }

    #[test]
    fn sm3_known_answer_gb_t_32905() {
        // GB/T 32905-2016 Appendix A, examples 1 and 2.
        assert_eq!(
            sm3_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            sm3_hex("abcd".repeat(16).as_bytes()),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
    }

    #[test]
    fn hmac_sm3_known_answers() {
        // RFC 4231 test cases 1 and 2 (inputs) with SM3 as the hash; the
        // expected values computed independently with OpenSSL 3.0
        // (`openssl mac -digest SM3 -macopt key:Jefe HMAC`).
        assert_eq!(
            hex::encode(hmac_sm3(&[0x0b; 20], b"Hi There")),
            "51b00d1fb49832bfb01c3ce27848e59f871d9ba938dc563b338ca964755cce70"
        );
        assert_eq!(
            hex::encode(hmac_sm3(b"Jefe", b"what do ya want for nothing?")),
            "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882"
        );
    }

    #[test]
    fn the_blind_index_follows_the_cipher_and_says_which_it_is() {
        let master = [7u8; 32];
        let aes = FieldCipher::from_master_with(&master, Algorithm::Aes256Gcm);
        let sm4 = FieldCipher::from_master_with(&master, Algorithm::Sm4Gcm);
        let a = aes.blind_index("phone", "13800000001");
        let s = sm4.blind_index("phone", "13800000001");
        assert_eq!(a.len(), 64);
        assert!(!a.contains(':'));
        // HMAC-SM3 under the SM3 index key, tagged.
        let mut msg = b"phone\0".to_vec();
        msg.extend_from_slice(b"13800000001");
        let key = hmac_sm3(&master, b"lianxin/blind-index/sm3/v1");
        assert_eq!(s, format!("sm3:{}", hex::encode(hmac_sm3(&key, &msg))));
        assert_eq!(s, sm4.blind_index("phone", "13800000001"), "deterministic");
        assert_ne!(
            s,
            sm4.blind_index("id_card", "13800000001"),
            "domains apart"
        );
        assert!(aes.index_is_current(&a) && !aes.index_is_current(&s));
        assert!(sm4.index_is_current(&s) && !sm4.index_is_current(&a));
    }

    #[test]
    fn blind_index_is_stable_and_domain_separated() {
        let c = cipher();
        assert_eq!(c.blind_index("phone", "1"), c.blind_index("phone", "1"));
        assert_ne!(c.blind_index("phone", "1"), c.blind_index("id_card", "1"));
        assert!(FieldCipher::from_hex("abc").is_err());
    }
}
