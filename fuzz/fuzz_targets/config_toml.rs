#![no_main]
//! lianxin.toml and the personal-data registry's format: any text is
//! accepted or refused with a message, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = toml::from_str::<app::config::FileConfig>(s);
    let _ = toml::from_str::<app::personal_data::Registry>(s);
});
