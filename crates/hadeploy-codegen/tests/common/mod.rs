//! Helpers shared by the tests of generated files.

use serde_json::Value;

/// A YAML file as a tree of strings (scalars untyped), for lookups.
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
