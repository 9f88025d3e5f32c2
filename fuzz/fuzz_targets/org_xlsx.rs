#![no_main]
//! The residents' Excel import: any bytes give rows or row errors, never a
//! panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(errors) = org::xlsx::parse_workbook(data) {
        assert!(!errors.is_empty());
    }
});
