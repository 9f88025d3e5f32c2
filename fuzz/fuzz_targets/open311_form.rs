#![no_main]
//! Open311 GeoReport v2 form bodies and query strings: never panic.
use libfuzzer_sys::fuzz_target;
use open311::model::{parse_form, requests_query, Params};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(pairs) = parse_form(&s) {
        let p = Params::from_pairs(pairs);
        let _ = requests_query(&p, 1_700_000_000_000);
        let _ = p.attributes();
    }
});
