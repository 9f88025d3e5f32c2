//! Field encryption for sensitive personal data (身份证号, phone, health,
//! party membership): AES-256-GCM, or SM4-GCM for 密评 deployments (GB/T
//! 32907 block cipher in GCM mode), with a random nonce per value, plus a
//! keyed blind index (HMAC-SHA256) so an exact match can be found without
//! storing the plaintext. All keys are derived from one master key.
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
        let key_id = hex::encode(&derive(master, b"lianxin/key-id/v1")[..4]);
        FieldCipher {
            inner: Arc::new(Inner {
                aes: Aes256Gcm::new_from_slice(&enc_key).expect("32-byte key"),
                sm4: Sm4Gcm::new_from_slice(&sm4_key[..16]).expect("16-byte key"),
                algorithm,
                key_id,
                index_key,
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
    pub fn blind_index(&self, kind: &str, value: &str) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.inner.index_key)
            .expect("HMAC takes any key size");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
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
    fn blind_index_is_stable_and_domain_separated() {
        let c = cipher();
        assert_eq!(c.blind_index("phone", "1"), c.blind_index("phone", "1"));
        assert_ne!(c.blind_index("phone", "1"), c.blind_index("id_card", "1"));
        assert!(FieldCipher::from_hex("abc").is_err());
    }
}
