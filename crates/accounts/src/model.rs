//! Pure account rules: login normalisation, password hashing parameters,
//! lockout and session expiry. No IO.

use kernel::personal::PhoneNumber;

/// Residents log in with their phone number (in any common spelling); staff
/// with an account name. Both normalise to one key for the blind index.
pub fn normalize_login(input: &str) -> String {
    match PhoneNumber::parse(input) {
        Ok(p) => p.as_str().to_string(),
        Err(_) => input.trim().to_lowercase(),
    }
}

/// What the user list shows instead of the login: a phone is masked.
pub fn masked_login(normalized: &str) -> String {
    match PhoneNumber::parse(normalized) {
        Ok(p) => p.masked(),
        Err(_) => normalized.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureState {
    pub failed_logins: i64,
    pub window_start: i64,
    pub locked_until: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub max_failures: i64,
    pub window_ms: i64,
    pub lock_ms: i64,
}

impl LockoutPolicy {
    pub fn new(max_failures: i64, window_minutes: i64) -> Self {
        LockoutPolicy {
            max_failures,
            window_ms: window_minutes * 60_000,
            lock_ms: window_minutes * 60_000,
        }
    }

    /// Seconds the account stays locked, if it is locked at `now`.
    pub fn locked_for(&self, s: &FailureState, now: i64) -> Option<i64> {
        (s.locked_until > now).then(|| (s.locked_until - now + 999) / 1000)
    }

    /// The state after one more failure at `now`: failures counted within a
    /// sliding window from the first one; the Nth locks the account.
    pub fn after_failure(&self, s: &FailureState, now: i64) -> FailureState {
        let (count, start) = if now - s.window_start > self.window_ms || s.failed_logins == 0 {
            (1, now)
        } else {
            (s.failed_logins + 1, s.window_start)
        };
        let locked_until = if count >= self.max_failures {
            now + self.lock_ms
        } else {
            s.locked_until
        };
        let (count, start) = if count >= self.max_failures {
            (0, 0)
        } else {
            (count, start)
        };
        FailureState {
            failed_logins: count,
            window_start: start,
            locked_until,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct SessionTimes {
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// A session lives while it is younger than its absolute limit and has been
/// used within the idle limit.
pub fn session_alive(t: &SessionTimes, idle_ms: i64, now: i64) -> bool {
    now < t.expires_at && now - t.last_seen_at < idle_ms
}

/// Argon2id with OWASP's recommended minimum (19 MiB, 2 passes).
pub fn hasher() -> argon2::Argon2<'static> {
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params"),
    )
}

pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing of a bounded password")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(hash) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------
// Password policy (等保 2.0 身份鉴别; OWASP ASVS V2.1).

/// The shortest password accepted.
pub const PASSWORD_MIN_CHARS: usize = 12;
/// The longest: argon2 runs on the blocking pool, keep its input bounded.
pub const PASSWORD_MAX_CHARS: usize = 256;

/// Common and pattern passwords, lower case, one a line (`#` comments).
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

fn blocklist() -> &'static std::collections::HashSet<&'static str> {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// A password without the digits and symbols at its end ("woaini1314!" →
/// "woaini"): people make a common word "strong" by appending them.
fn stem(s: &str) -> &str {
    s.trim_end_matches(|c: char| !c.is_alphabetic())
}

/// The stems of the blocklist (4 characters or more).
fn blocked_stems() -> &'static std::collections::HashSet<&'static str> {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| {
        blocklist()
            .iter()
            .map(|w| stem(w))
            .filter(|w| w.chars().count() >= 4)
            .collect()
    })
}

/// Undoes the usual letter-for-symbol swaps (p@ssw0rd → password), so a
/// blocklisted word is not made acceptable by them.
fn unleet(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '@' | '4' => 'a',
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '$' | '5' => 's',
            '7' => 't',
            other => other,
        })
        .collect()
}

/// Is the password a common one, or a common one with digits and symbols
/// appended, or one spelled with the usual symbol swaps?
pub fn is_common_password(password: &str) -> bool {
    let lower = password.to_lowercase();
    let list = blocklist();
    list.contains(lower.as_str())
        || list.contains(unleet(&lower).as_str())
        || blocked_stems().contains(stem(&lower))
}

/// How many of the four classes (lower, upper, digit, other) occur.
pub fn character_classes(password: &str) -> usize {
    let lower = password.chars().any(|c| c.is_lowercase());
    let upper = password.chars().any(|c| c.is_uppercase());
    let digit = password.chars().any(|c| c.is_ascii_digit());
    let other = password
        .chars()
        .any(|c| !c.is_lowercase() && !c.is_uppercase() && !c.is_ascii_digit());
    [lower, upper, digit, other].iter().filter(|x| **x).count()
}

/// Every rule the password breaks, as Chinese messages for the `password`
/// field; empty when it is acceptable. Applied wherever a password is set
/// (account creation, password change) — the demo seeder alone bypasses it,
/// so the contract's demo password keeps working in demo mode.
pub fn password_problems(password: &str, login: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        out.push("密码至少 12 个字符");
    }
    if n > PASSWORD_MAX_CHARS {
        out.push("密码不能超过 256 个字符");
    }
    if character_classes(password) < 3 {
        out.push("密码须包含小写字母、大写字母、数字、符号中的至少三类");
    }
    if is_common_password(password) {
        out.push("密码过于常见,容易被猜中,请换一个");
    }
    let login = normalize_login(login);
    if login.chars().count() >= 3 && password.to_lowercase().contains(&login) {
        out.push("密码不能包含登录账号");
    }
    out
}

/// Staff passwords older than `max_age_days` must be changed (0 = never).
/// Residents are not forced to rotate.
pub fn password_expired(changed_at: i64, max_age_days: i64, is_staff: bool, now: i64) -> bool {
    is_staff && max_age_days > 0 && now - changed_at >= max_age_days * 86_400_000
}

// ---------------------------------------------------------------------------
// 三权分立 and session limits by role.

use kernel::Role;

/// The grant of `new` to an account holding `held` breaks separation of
/// duties when both are among system admin, security admin and auditor and
/// differ. (Holding the same one at two places is refused by the database's
/// one-live-grant index, and is refused here too.)
pub fn separation_conflict(held: &[Role], new: Role) -> Option<Role> {
    if !Role::SEPARATED_DUTIES.contains(&new) {
        return None;
    }
    held.iter()
        .copied()
        .find(|r| Role::SEPARATED_DUTIES.contains(r))
}

/// Idle limit in minutes for an account with these roles: the separated
/// administrative roles get the shorter one.
pub fn idle_minutes_for(roles: &[Role], staff_idle: i64, privileged_idle: i64) -> i64 {
    if roles.iter().any(|r| Role::SEPARATED_DUTIES.contains(r)) {
        staff_idle.min(privileged_idle)
    } else {
        staff_idle
    }
}

// ---------------------------------------------------------------------------
// TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, ±1 step).

pub const TOTP_STEP_SECS: i64 = 30;
pub const TOTP_DIGITS: u32 = 6;

/// HOTP (RFC 4226) value for one counter, with `digits` digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = (h[h.len() - 1] & 0x0f) as usize;
    let bin = ((u32::from(h[offset]) & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

/// The time step of a moment (ms since the epoch).
pub fn totp_step(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000).div_euclid(TOTP_STEP_SECS)
}

/// The 6-digit code for a moment, zero-padded.
pub fn totp_code(secret: &[u8], now_ms: i64) -> String {
    format!(
        "{:06}",
        hotp(secret, totp_step(now_ms).max(0) as u64, TOTP_DIGITS)
    )
}

/// Checks `code` against the steps now−1, now, now+1 that come after
/// `last_step` (a code once accepted never is again); the step it matched.
pub fn totp_verify(secret: &[u8], code: &str, now_ms: i64, last_step: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = totp_step(now_ms);
    (now - 1..=now + 1)
        .filter(|s| *s > last_step && *s >= 0)
        .find(|s| {
            let expected = format!("{:06}", hotp(secret, *s as u64, TOTP_DIGITS));
            crate::session::constant_eq(&expected, code)
        })
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (what authenticator apps expect).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            out.push(BASE32[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in s.chars().filter(|c| *c != '=' && !c.is_whitespace()) {
        let v = BASE32
            .iter()
            .position(|x| *x as char == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buffer >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

/// A new 160-bit TOTP secret.
pub fn new_totp_secret() -> Vec<u8> {
    use rand::RngCore;
    let mut s = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

/// The `otpauth://` URI authenticator apps scan.
pub fn otpauth_uri(secret_b32: &str, account: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc("Lianxin"),
        enc(account),
        secret_b32,
        enc("Lianxin")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: i64 = 60_000;

    #[test]
    fn five_failures_in_fifteen_minutes_lock() {
        let p = LockoutPolicy::new(5, 15);
        let mut s = FailureState {
            failed_logins: 0,
            window_start: 0,
            locked_until: 0,
        };
        for i in 0..4 {
            s = p.after_failure(&s, 1_000_000 + i * MIN);
            assert!(p.locked_for(&s, 1_000_000 + i * MIN).is_none());
        }
        s = p.after_failure(&s, 1_000_000 + 4 * MIN);
        assert_eq!(p.locked_for(&s, 1_000_000 + 4 * MIN), Some(15 * 60));
        assert!(p.locked_for(&s, 1_000_000 + 19 * MIN + 1).is_none());
    }

    #[test]
    fn failures_spread_out_do_not_lock() {
        let p = LockoutPolicy::new(5, 15);
        let mut s = FailureState {
            failed_logins: 0,
            window_start: 0,
            locked_until: 0,
        };
        for i in 0..10 {
            s = p.after_failure(&s, 1_000_000 + i * 4 * MIN);
            assert!(
                p.locked_for(&s, 1_000_000 + i * 4 * MIN).is_none(),
                "failure {i}"
            );
        }
    }

    #[test]
    fn sessions_expire_idle_and_absolute() {
        let t = SessionTimes {
            created_at: 0,
            last_seen_at: 0,
            expires_at: 12 * 60 * MIN,
        };
        assert!(session_alive(&t, 30 * MIN, 29 * MIN));
        assert!(!session_alive(&t, 30 * MIN, 30 * MIN));
        let t = SessionTimes {
            last_seen_at: 12 * 60 * MIN - MIN,
            ..t
        };
        assert!(!session_alive(&t, 30 * MIN, 12 * 60 * MIN));
    }

    #[test]
    fn logins_normalise() {
        assert_eq!(normalize_login(" 138 0000 0001 "), "13800000001");
        assert_eq!(normalize_login("Butler-XC"), "butler-xc");
        assert_eq!(masked_login("13800000001"), "138****0001");
    }

    #[test]
    fn passwords_verify() {
        let h = hash_password("lianxin-demo");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("lianxin-demo", &h));
        assert!(!verify_password("lianxin-demO", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn password_policy_accepts_a_good_password() {
        assert!(password_problems("Tiger-Lantern-42", "butler-xc").is_empty());
        assert!(password_problems("红色物业Lianxin2026", "butler-xc").is_empty());
    }

    #[test]
    fn password_policy_names_each_broken_rule() {
        assert!(password_problems("Ab1!", "x").contains(&"密码至少 12 个字符"));
        assert!(password_problems("abcdefghijklmnop", "x")
            .contains(&"密码须包含小写字母、大写字母、数字、符号中的至少三类"));
        for common in [
            "Password123!",
            "P@ssw0rd1234",
            "Qwerty123456",
            "1qaz2wsx3EDC",
            "Woaini5201314",
            "Woaini1314!!",
            "Lianxin-demo1",
            "Zhangwei@2024",
            "Abcd1234!@#$",
        ] {
            assert!(
                password_problems(common, "x").contains(&"密码过于常见,容易被猜中,请换一个"),
                "{common}"
            );
        }
        assert!(password_problems("Butler-XC-2026!", "butler-xc").contains(&"密码不能包含登录账号"));
        assert!(
            password_problems("x13800000001Y!", "138 0000 0001").contains(&"密码不能包含登录账号")
        );
        assert!(password_problems("lianxin-demo", "butler-xc").len() >= 2);
    }

    #[test]
    fn the_blocklist_is_a_few_thousand_entries() {
        assert!(blocklist().len() > 3000, "{}", blocklist().len());
        assert!(blocklist().contains("5201314520"));
        assert!(blocklist().contains("1qaz2wsx"));
    }

    #[test]
    fn staff_passwords_expire_residents_do_not() {
        let day = 86_400_000;
        assert!(!password_expired(0, 90, true, 89 * day));
        assert!(password_expired(0, 90, true, 90 * day));
        assert!(!password_expired(0, 90, false, 900 * day));
        assert!(
            !password_expired(0, 0, true, 900 * day),
            "0 turns rotation off"
        );
    }

    #[test]
    fn separated_duties_exclude_each_other() {
        assert_eq!(
            separation_conflict(&[Role::Auditor], Role::Sysadmin),
            Some(Role::Auditor)
        );
        assert_eq!(
            separation_conflict(&[Role::Sysadmin], Role::Secadmin),
            Some(Role::Sysadmin)
        );
        assert_eq!(separation_conflict(&[Role::Butler], Role::Auditor), None);
        assert_eq!(separation_conflict(&[Role::Auditor], Role::Butler), None);
        assert_eq!(
            idle_minutes_for(&[Role::Secadmin], 30, 15),
            15,
            "security roles idle out sooner"
        );
        assert_eq!(idle_minutes_for(&[Role::StreetAdmin], 30, 15), 30);
    }

    /// RFC 6238 appendix B, SHA-1 rows (8 digits, the 20-byte ASCII key).
    #[test]
    fn totp_matches_the_rfc_6238_vectors() {
        let key = b"12345678901234567890";
        for (t, expected) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(key, t / 30, 8), expected, "T = {t}");
        }
        assert_eq!(totp_code(key, 59_000), "287082");
    }

    #[test]
    fn totp_accepts_one_step_either_side_and_never_twice() {
        let key = b"12345678901234567890";
        let now = 1_111_111_109_000;
        let code = totp_code(key, now);
        let step = totp_verify(key, &code, now, 0).expect("the current code");
        assert_eq!(step, totp_step(now));
        assert!(
            totp_verify(key, &code, now, step).is_none(),
            "reuse refused"
        );
        assert!(
            totp_verify(key, &code, now + 30_000, 0).is_some(),
            "one step late"
        );
        assert!(
            totp_verify(key, &code, now + 90_000, 0).is_none(),
            "too late"
        );
        assert!(totp_verify(key, "12345", now, 0).is_none());
        assert!(totp_verify(key, "abcdef", now, 0).is_none());
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert!(base32_decode("1!").is_none());
        assert!(otpauth_uri("ABC", "butler-xc")
            .starts_with("otpauth://totp/Lianxin:butler-xc?secret=ABC"));
    }

    proptest! {
        /// Whatever the password, an accepted one meets every rule.
        #[test]
        fn accepted_passwords_meet_every_rule(pw in "[a-zA-Z0-9!@#%._-]{0,20}") {
            if password_problems(&pw, "someone").is_empty() {
                prop_assert!(pw.chars().count() >= PASSWORD_MIN_CHARS);
                prop_assert!(character_classes(&pw) >= 3);
                prop_assert!(!is_common_password(&pw));
                prop_assert!(!pw.to_lowercase().contains("someone"));
            }
        }

        /// A blocklisted password is refused in any letter case and with any
        /// digits/symbols appended.
        #[test]
        fn common_passwords_stay_refused(i in 0usize..3000, tail in "[0-9!@#]{0,4}") {
            let mut words: Vec<&str> = blocklist()
                .iter()
                .copied()
                .filter(|w| stem(w).chars().count() >= 4)
                .collect();
            words.sort();
            let w = words[i % words.len()];
            let variant = format!("{}{}", w.to_uppercase(), tail);
            prop_assert!(is_common_password(&variant), "{}", variant);
        }

        #[test]
        fn base32_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(base32_decode(&base32_encode(&bytes)).unwrap(), bytes);
        }

        /// However failures arrive, a lock never lasts longer than the policy's.
        #[test]
        fn lock_is_bounded(gaps in proptest::collection::vec(0i64..20 * MIN, 1..20)) {
            let p = LockoutPolicy::new(5, 15);
            let mut s = FailureState { failed_logins: 0, window_start: 0, locked_until: 0 };
            let mut now = 1_000_000;
            for g in gaps {
                now += g;
                s = p.after_failure(&s, now);
                prop_assert!(s.locked_until <= now + 15 * MIN);
                prop_assert!(s.failed_logins < 5);
            }
        }
    }
}
