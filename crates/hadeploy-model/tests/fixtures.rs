//! Every fixture of `tests/fixtures`: valid descriptions snapshot their
//! resolved model, invalid ones the exact messages a user reads.

use std::path::{Path, PathBuf};

use hadeploy_model::SrcArg;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .canonicalize()
        .unwrap()
}

/// Paths in output, relative to the fixtures folder, so snapshots do not
/// depend on where the repository is checked out.
fn relative(text: &str) -> String {
    text.replace(&format!("{}/", fixtures().display()), "")
}

fn srcs_of(list: &Path) -> Vec<SrcArg> {
    let dir = list.parent().unwrap();
    std::fs::read_to_string(list)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match SrcArg::parse(l) {
            SrcArg::File(f) => SrcArg::File(dir.join(f)),
            var => var,
        })
        .collect()
}

#[test]
fn valid_descriptions_resolve() {
    insta::glob!("../../../tests/fixtures", "**/*.srcs", |path| {
        let srcs = srcs_of(path);
        let model = hadeploy_model::load(&srcs).unwrap_or_else(|d| panic!("{} fails:\n{}", path.display(), d));
        let json = serde_json::to_string_pretty(&model).unwrap();
        insta::with_settings!({ description => std::fs::read_to_string(path).unwrap(), omit_expression => true }, {
            insta::assert_snapshot!(relative(&json));
        });
    });
}

#[test]
fn invalid_descriptions_are_explained() {
    insta::glob!("../../../tests/fixtures", "errors/*.yml", |path| {
        let err =
            hadeploy_model::load(&[SrcArg::File(path.to_path_buf())]).expect_err("an error fixture must be rejected");
        assert!(!err.errors.is_empty());
        for d in &err.errors {
            assert!(
                d.span.is_some() || d.help.is_some(),
                "unplaced errors must say what to do: {d:?}"
            );
        }
        insta::with_settings!({ omit_expression => true }, {
            insta::assert_snapshot!(relative(&err.to_string()));
        });
    });
}
