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

    proptest! {
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
