//! Helpers shared by the tests of generated files.

use serde_json::Value;

/// A YAML file as a tree of strings (scalars untyped), for lookups.
#[allow(dead_code)]
pub fn yaml_tree(text: &str) -> Value {
    use saphyr_parser::{Event, Parser};
    enum Open {
        Seq(Vec<Value>),
        Map(serde_json::Map<String, Value>, Option<String>),
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut done = Value::Null;
    let push = |stack: &mut Vec<Open>, done: &mut Value, v: Value| match stack.last_mut() {
        None => *done = v,
        Some(Open::Seq(items)) => items.push(v),
        Some(Open::Map(m, key)) => match key.take() {
            None => *key = Some(v.as_str().unwrap_or_default().to_string()),
            Some(k) => {
                m.insert(k, v);
            }
        },
    };
    for ev in Parser::new_from_str(text) {
        let (ev, _) = ev.unwrap_or_else(|e| panic!("not valid YAML: {e}\n{text}"));
        match ev {
            Event::Scalar(s, ..) => push(&mut stack, &mut done, Value::String(s.to_string())),
            Event::SequenceStart(..) => stack.push(Open::Seq(Vec::new())),
            Event::MappingStart(..) => stack.push(Open::Map(serde_json::Map::new(), None)),
            Event::SequenceEnd => {
                let Some(Open::Seq(items)) = stack.pop() else {
                    panic!("unbalanced")
                };
                push(&mut stack, &mut done, Value::Array(items));
            }
            Event::MappingEnd => {
                let Some(Open::Map(m, _)) = stack.pop() else {
                    panic!("unbalanced")
                };
                push(&mut stack, &mut done, Value::Object(m));
            }
            _ => {}
        }
    }
    done
}

/// What supervisor's own parser reads of the program and group files
/// (`(name, content)`) given: the output of `print` (Python run with `o`,
/// the realised `ServerOptions` of a supervisord.conf that includes them).
/// `None`, with a message, where the test venv is missing outside CI.
#[allow(dead_code)]
pub fn supervisor_reads<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>, print: &str) -> Option<String> {
    let py = std::path::PathBuf::from("/var/tmp/hadeploy-venv/bin/python3");
    if !py.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide /var/tmp/hadeploy-venv"
        );
        eprintln!("SKIPPED: no /var/tmp/hadeploy-venv (bash tests/setup-venv.sh)");
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(tmp.path().join(name), content).unwrap();
    }
    let conf = tmp.path().join("supervisord.conf");
    std::fs::write(
        &conf,
        format!("[supervisord]\n[include]\nfiles={}/*.ini\n", tmp.path().display()),
    )
    .unwrap();
    let script = format!(
        "import sys\nfrom supervisor.options import ServerOptions\no = ServerOptions()\no.realize(['-c', sys.argv[1]])\n{print}"
    );
    let out = std::process::Command::new(py)
        .args(["-c", &script])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).unwrap())
}
