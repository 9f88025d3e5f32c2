//! Field encryption for sensitive personal data (身份证号, phone, health,
//! party membership): AES-256-GCM with a random nonce per value, plus a keyed
//! blind index (HMAC-SHA256) so an exact match can be found without storing
//! the plaintext. Both keys are derived from one master key from config.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::sync::Arc;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "v1:";

#[derive(Clone)]
pub struct FieldCipher {
    inner: Arc<Inner>,
}

struct Inner {
    aead: Aes256Gcm,
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
    /// From the configured master key: 64 hex characters.
    pub fn from_hex(master_hex: &str) -> Result<FieldCipher, KeyError> {
        let bytes = hex::decode(master_hex.trim()).map_err(|_| KeyError::BadKey)?;
        let master: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadKey)?;
        Ok(Self::from_master(&master))
    }

    pub fn from_master(master: &[u8; 32]) -> FieldCipher {
        let enc_key = derive(master, b"lianxin/field-encryption/v1");
        let index_key = derive(master, b"lianxin/blind-index/v1");
        FieldCipher {
            inner: Arc::new(Inner {
                aead: Aes256Gcm::new_from_slice(&enc_key).expect("32-byte key"),
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

    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        self.encrypt_with_nonce(plaintext, nonce)
    }

    /// Encrypts with a nonce the caller chose: only for generators that must
    /// reproduce the same rows from the same seed (`lianxin seed`). The
    /// nonce must still be unique per value under one key.
    pub fn encrypt_with_nonce(&self, plaintext: &str, nonce: [u8; 12]) -> String {
        let ct = self
            .inner
            .aead
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        )
    }

    /// None when the value was not produced by this key (tampered or wrong key).
    pub fn decrypt(&self, stored: &str) -> Option<String> {
        let b64 = stored.strip_prefix(PREFIX)?;
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let pt = self.inner.aead.decrypt(Nonce::from_slice(nonce), ct).ok()?;
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

    #[test]
    fn tamper_and_wrong_key_fail() {
        let c = cipher();
        let stored = c.encrypt("secret");
        let b64 = stored.strip_prefix(PREFIX).unwrap();
        let mut raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .unwrap();
        // Flip one bit of every byte position in turn: GCM's tag catches each.
        for i in 0..raw.len() {
            raw[i] ^= 1;
            let tampered = format!(
                "{PREFIX}{}",
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(&raw)
            );
            assert!(c.decrypt(&tampered).is_none(), "flipped byte {i}");
            raw[i] ^= 1;
        }
        let other = FieldCipher::from_hex(&"22".repeat(32)).unwrap();
        assert!(other.decrypt(&stored).is_none());
    }

    #[test]
    fn blind_index_is_stable_and_domain_separated() {
        let c = cipher();
        assert_eq!(c.blind_index("phone", "1"), c.blind_index("phone", "1"));
        assert_ne!(c.blind_index("phone", "1"), c.blind_index("id_card", "1"));
        assert!(FieldCipher::from_hex("abc").is_err());
    }
}
