//! Any bytes, as one description file: the loader and the validator answer
//! with a model or with placed errors, never a panic, a hang or unbounded
//! memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hadeploy_model::fuzz::check_bytes(data);
});
