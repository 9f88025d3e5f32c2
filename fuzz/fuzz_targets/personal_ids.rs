#![no_main]
//! PhoneNumber / IdCardNumber: never panic; whatever parses re-parses to
//! itself and masks without leaking the middle digits.
use kernel::personal::{IdCardNumber, PhoneNumber};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = PhoneNumber::parse(s) {
        assert_eq!(PhoneNumber::parse(p.as_str()).unwrap(), p);
        assert_eq!(p.masked().chars().filter(|c| *c == '*').count(), 4);
    }
    if let Ok(id) = IdCardNumber::parse(s) {
        assert_eq!(IdCardNumber::parse(id.as_str()).unwrap(), id);
        assert_eq!(id.as_str().len(), 18);
    }
});
