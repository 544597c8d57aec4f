//! Bytes read as choices among the description's own sections, keys and a
//! vocabulary of hard values: mutations reach validation, not only syntax.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hadeploy_model::fuzz::check_text(&hadeploy_model::fuzz::structured(data));
});
