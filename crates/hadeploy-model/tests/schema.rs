//! The JSON Schema editors use: every valid fixture validates against it,
//! mistakes it can see are flagged, and it lists exactly the keys the loader
//! accepts.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use hadeploy_model::{ErrorKind, SrcArg};
use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .canonicalize()
        .unwrap()
}

fn validator() -> jsonschema::Validator {
    let schema = hadeploy_model::json_schema();
    jsonschema::draft7::meta::validate(&schema).expect("the schema is a valid draft-07 schema");
    jsonschema::draft7::new(&schema).expect("the schema compiles")
}

/// How an editor types plain scalars: YAML 1.1 (`yes` is a boolean, as
/// hadeploy reads it) or YAML 1.2's core schema (`yes` is a string).
#[derive(Debug, Clone, Copy)]
enum Typing {
    Yaml11,
    Core12,
}

/// The documents of a YAML file as JSON, as an editor hands them to its
/// validator: aliases expanded, merge keys applied, repeated keys merged.
fn documents(text: &str, typing: Typing) -> Vec<Value> {
    enum Frame {
        Seq(Vec<Value>, usize),
        Map(Map<String, Value>, Option<String>, Vec<Value>, usize),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut docs = Vec::new();
    let mut finish = |value: Value, anchor: usize, stack: &mut Vec<Frame>, anchors: &mut HashMap<usize, Value>| {
        if anchor != 0 {
            anchors.insert(anchor, value.clone());
        }
        match stack.last_mut() {
            None => docs.push(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(map, key, merges, _)) => match key.take() {
                None => *key = Some(value.as_str().map_or_else(|| value.to_string(), str::to_string)),
                Some(k) if k == "<<" => match value {
                    Value::Array(items) => merges.extend(items),
                    v => merges.push(v),
                },
                Some(k) => match map.get_mut(&k) {
                    Some(old) => merge(old, value),
                    None => {
                        map.insert(k, value);
                    }
                },
            },
        }
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, _) = event.unwrap();
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let forced_str = tag.is_some_and(|t| t.suffix == "str");
                let value = if style == ScalarStyle::Plain && !forced_str {
                    typed(&text, typing)
                } else {
                    Value::String(text.into_owned())
                };
                finish(value, anchor, &mut stack, &mut anchors);
            }
            Event::Alias(id) => finish(anchors[&id].clone(), 0, &mut stack, &mut anchors),
            Event::SequenceStart(anchor, _) => stack.push(Frame::Seq(Vec::new(), anchor)),
            Event::MappingStart(anchor, _) => stack.push(Frame::Map(Map::new(), None, Vec::new(), anchor)),
            Event::SequenceEnd => {
                let Some(Frame::Seq(items, anchor)) = stack.pop() else {
                    panic!()
                };
                finish(Value::Array(items), anchor, &mut stack, &mut anchors);
            }
            Event::MappingEnd => {
                let Some(Frame::Map(mut map, _, merges, anchor)) = stack.pop() else {
                    panic!()
                };
                for source in merges {
                    for (k, v) in source.as_object().cloned().unwrap_or_default() {
                        map.entry(k).or_insert(v);
                    }
                }
                finish(Value::Object(map), anchor, &mut stack, &mut anchors);
            }
            _ => {}
        }
    }
    docs
}

/// A repeated key: maps merge key by key, lists append, the last scalar wins.
fn merge(old: &mut Value, new: Value) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(o) => merge(o, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => a.extend(b),
        (old, new) => *old = new,
    }
}

fn typed(text: &str, typing: Typing) -> Value {
    let number = |t: &str| {
        t.parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| t.parse::<f64>().ok().filter(|f| f.is_finite()).map(Value::from))
    };
    match typing {
        Typing::Yaml11 => match text.to_ascii_lowercase().as_str() {
            "" | "~" | "null" => Value::Null,
            "yes" | "true" | "on" | "y" => Value::Bool(true),
            "no" | "false" | "off" | "n" => Value::Bool(false),
            _ => number(text).unwrap_or_else(|| Value::String(text.into())),
        },
        Typing::Core12 => match text {
            "" | "~" | "null" | "Null" | "NULL" => Value::Null,
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            _ => number(text).unwrap_or_else(|| Value::String(text.into())),
        },
    }
}

fn yml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml") {
            out.push(p);
        }
    }
}

/// Each error as `PATH: message`.
fn errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn every_valid_fixture_validates() {
    let validator = validator();
    let mut files = Vec::new();
    yml_files(&fixtures().join("seed"), &mut files);
    yml_files(&fixtures().join("rich"), &mut files);
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for typing in [Typing::Yaml11, Typing::Core12] {
            for doc in documents(&text, typing) {
                let errs = errors(&validator, &doc);
                assert!(errs.is_empty(), "{} ({typing:?}):\n{}", file.display(), errs.join("\n"));
            }
        }
    }
}

#[test]
fn mistakes_an_editor_can_see_are_flagged_where_they_are() {
    let validator = validator();
    for (fixture, at, says) in [
        ("unknown_key.yml", "/supervisor_programs/0", "supervisr"),
        ("unknown_section.yml", "", "supervisor"),
        ("invalid_state.yml", "/supervisor_programs/0/state", ""),
        ("missing_key.yml", "/supervisors/0", ""),
        ("wrong_type.yml", "/supervisors/0/managed", ""),
        ("bad_mode.yml", "/folders/0/mode", ""),
        ("when_not_boolean.yml", "/supervisors/0/when", ""),
        ("top_level_list.yml", "", ""),
    ] {
        let text = std::fs::read_to_string(fixtures().join("errors").join(fixture)).unwrap();
        for typing in [Typing::Yaml11, Typing::Core12] {
            let errs: Vec<String> = documents(&text, typing)
                .iter()
                .flat_map(|d| errors(&validator, d))
                .collect();
            assert!(
                errs.iter()
                    .any(|e| e.starts_with(&format!("{at}: ")) && e.contains(says)),
                "{fixture} ({typing:?}) should be flagged at `{at}` naming `{says}`: {errs:?}"
            );
        }
    }
}

/// Values the loader accepts that no fixture holds.
#[test]
fn variables_empty_values_and_blank_overrides_validate() {
    let validator = validator();
    let text = r#"
hosts: ${hosts}
host_overrides:
- { name: all, ssh_port: '', become: '', ssh_user: '' }
supervisors:
- ${a_supervisor}
- name: s
  scope: all
  user: u
  group: g
  managed: ${managed}
  enabled: <<enabled>>
  http_server: ${http}
supervisor_programs:
- name: p
  supervisor: s
  command: /bin/true
  numprocs: "${n}"
  startsecs: 1${digit}
  exitcodes: [0, "${code}"]
  stopsignal: sigint
  state: ${state}
folders:
- { path: /opt, owner: root, group: root, mode: 0755, no_remove: }
"#;
    for typing in [Typing::Yaml11, Typing::Core12] {
        for doc in documents(text, typing) {
            let errs = errors(&validator, &doc);
            assert!(errs.is_empty(), "{typing:?}: {}", errs.join("\n"));
        }
    }
}

/// The keys the loader names in the help of an unknown key: "the keys
/// allowed here are: a, b, c".
fn accepted_by_loader(yaml: &str) -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.yml");
    std::fs::write(&file, yaml).unwrap();
    let err = hadeploy_model::load(&[SrcArg::File(file)]).expect_err("an unknown key is rejected");
    let d = err
        .errors
        .iter()
        .find(|d| matches!(&d.kind, ErrorKind::UnknownKey { key, .. } if key == "zz_not_a_key"))
        .unwrap_or_else(|| panic!("no unknown key error for:\n{yaml}\n{err}"));
    let help = d.help.as_deref().unwrap();
    let (_, list) = help.split_once(": ").unwrap_or_else(|| panic!("{help}"));
    list.split(", ").map(str::to_string).collect()
}

fn property_names(schema: &Value) -> BTreeSet<String> {
    schema["properties"].as_object().unwrap().keys().cloned().collect()
}

/// The map schema inside a property's schema, if the property holds a map.
fn map_in(schema: &Value) -> Option<&Value> {
    if schema.get("properties").is_some() {
        return Some(schema);
    }
    schema.get("anyOf")?.as_array()?.iter().find_map(map_in)
}

#[test]
fn the_schema_lists_exactly_the_keys_the_loader_accepts() {
    let schema = hadeploy_model::json_schema();
    let defs = &schema["definitions"];
    assert_eq!(
        accepted_by_loader("vars: {}\nzz_not_a_key: 1\n"),
        property_names(&schema),
        "top-level sections"
    );
    let mut maps = 0;
    for section in property_names(&schema) {
        if let Some(map) = map_in(&schema["properties"][&section]) {
            maps += 1;
            assert_eq!(
                accepted_by_loader(&format!("{section}: {{ zz_not_a_key: 1 }}\n")),
                property_names(map),
                "`{section}`"
            );
        }
        let Some(item) = defs.get(format!("{section}_item")) else {
            continue;
        };
        maps += 1;
        assert_eq!(
            accepted_by_loader(&format!("{section}:\n- zz_not_a_key: 1\n")),
            property_names(item),
            "`{section}` items"
        );
        for (key, value) in item["properties"].as_object().unwrap() {
            if let Some(inner) = map_in(value) {
                maps += 1;
                assert_eq!(
                    accepted_by_loader(&format!("{section}:\n- {key}: {{ zz_not_a_key: 1 }}\n")),
                    property_names(inner),
                    "`{key}` of `{section}` items"
                );
            }
        }
    }
    // Twelve list sections (`host_group_overrides` included), `http_server`,
    // `healthcheck` and `rolling`.
    assert_eq!(maps, 15);
}

/// docs/description.md names every stop signal the reader accepts.
#[test]
fn the_description_docs_list_every_stop_signal() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/description.md")).unwrap();
    let at = doc
        .find("`stopsignal` any signal name")
        .expect("the stopsignal paragraph");
    let paragraph = &doc[at..at + doc[at..].find("number from 1 to 64").expect("its numbers")];
    let listed: Vec<&str> = paragraph
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| hadeploy_model::format::SIGNALS.contains(w))
        .collect();
    let missing: Vec<&&str> = hadeploy_model::format::SIGNALS
        .iter()
        .filter(|s| !listed.contains(s))
        .collect();
    assert!(missing.is_empty(), "docs/description.md does not list {missing:?}");
}
