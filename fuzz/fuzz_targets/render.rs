//! Structured descriptions that load are rendered: no panic, and every
//! generated YAML file parses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(model) = hadeploy_model::fuzz::check_text(&hadeploy_model::fuzz::structured(data)) {
        hadeploy_codegen::fuzz::check_render(&model);
    }
});
