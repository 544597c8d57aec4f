//! Whatever the input, the loader answers with a model or with errors that
//! point into the input; it never panics.

use hadeploy_model::SrcArg;
use proptest::prelude::*;

fn load(text: String) -> Result<hadeploy_model::Model, hadeploy_model::Diagnostics> {
    hadeploy_model::load(&[SrcArg::Text {
        path: "fuzz.yml".into(),
        text,
    }])
}

fn check(text: String) {
    if let Err(d) = load(text) {
        assert!(!d.errors.is_empty());
        // Rendering quotes source lines: it must cope with any position.
        let _ = d.to_string();
    }
}

/// YAML-ish text built from the description's own vocabulary, so that the
/// generator reaches deep into validation rather than stopping at syntax.
fn yamlish() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "hosts",
        "supervisors",
        "supervisor_programs",
        "supervisor_groups",
        "files",
        "folders",
        "users",
        "groups",
        "vars",
        "include",
        "name",
        "scope",
        "user",
        "group",
        "command",
        "notify",
        "state",
        "numprocs",
        "process_name",
        "http_server",
        "password",
        "when",
        "en1",
        "all",
        "tsupv",
        "p1",
        "${x}",
        "<<x>>",
        "$${",
        "yes",
        "no",
        "0755",
        "%(process_num)d",
        "{{ x }}",
        "\"a\\nb\"",
        "'q'",
        "&a",
        "*a",
        "<<: *a",
        "-",
        ":",
        "[",
        "]",
        "{",
        "}",
        ",",
        "---",
        "\n",
        "\n  ",
        "\n- ",
        "#",
        "~",
        "priority",
        "host_overrides",
        "''",
        "supervisor://tsupv/p1",
    ]);
    prop::collection::vec(words, 0..80).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        check(text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn yaml_built_from_description_words_never_panics(text in yamlish()) {
        check(text);
    }
}

#[test]
fn a_valid_description_in_memory_loads() {
    let text = "hosts: [{name: en1}]\nsupervisors: [{name: s, scope: all, user: u, group: u}]\n\
                supervisor_programs: [{name: p, supervisor: s, command: /bin/true, numprocs: 2}]\n";
    let model = load(text.into()).unwrap();
    assert_eq!(model.supervisors[0].programs[0].processes, ["p:p_00", "p:p_01"]);
}
