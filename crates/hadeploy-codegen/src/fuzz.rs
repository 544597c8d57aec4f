//! Entry point for fuzzing code generation: the `render` cargo-fuzz target
//! of `fuzz/` and the smoke test of `tests/fuzz_smoke.rs` call
//! [`check_render`] on every model the loader accepts.

use hadeploy_model::Model;

use crate::{Options, render};

/// Renders `model` and checks what every rendering must hold: it ends in a
/// project or in an error that says what; every path stays inside the
/// project; every YAML file parses.
///
/// # Panics
/// When rendering panics or one of these does not hold.
pub fn check_render(model: &Model) {
    let project = match render(model, &Options::default()) {
        Ok(project) => project,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "a render error says what");
            return;
        }
    };
    for (path, bytes) in &project {
        assert!(
            !path.starts_with('/') && !path.split('/').any(|c| c.is_empty() || c == "." || c == ".."),
            "`{path}` leaves the project"
        );
        if let (true, Some(bytes)) = (path.ends_with(".yml"), bytes.as_bytes()) {
            let text = std::str::from_utf8(bytes).unwrap_or_else(|_| panic!("{path} is not UTF-8"));
            for event in saphyr_parser::Parser::new_from_str(text) {
                if let Err(e) = event {
                    panic!("{path} is not valid YAML: {e}\n{text}");
                }
            }
        }
    }
}
