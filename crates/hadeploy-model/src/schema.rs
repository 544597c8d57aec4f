//! The JSON Schema of the description format, generated from the tables of
//! [`crate::format`], for editors (yaml-language-server) to complete keys and
//! flag mistakes as they are typed.
//!
//! Draft-07, the newest draft every YAML editor reads; `patternErrorMessage`
//! is the editors' own keyword for a readable message where a pattern fails.
//!
//! Values may be written with variables (`${name}`, `<<name>>`) anywhere: a
//! value that is exactly one reference may stand for a list or a map, and a
//! typed scalar (a boolean, a number) may be a string holding a reference,
//! since its type is only known once variables are substituted. Both YAML 1.1
//! (`yes` is a boolean) and YAML 1.2 (`yes` is a string) readings of a
//! description validate.

use serde_json::{Map, Value, json};

use crate::format::{Key, Keys, SECTIONS, SIGNALS, Ty};

/// The URI of the draft the schema follows.
pub const SCHEMA_DRAFT: &str = "http://json-schema.org/draft-07/schema#";

/// A value that is exactly one variable reference: it may stand for a list
/// or a map.
const VARIABLE: &str = r"^(\$\{[^}]+\}|<<[^>]+>>)$";
/// A string holding a variable reference somewhere, typed once substituted.
const SUBSTITUTED: &str = r"\$\{[^}]+\}|<<[^>]+>>";

/// The JSON Schema of one description file (each YAML document of it).
///
/// Each value's schema lists the JSON types it may take, with the keywords
/// of each type side by side (`pattern` only applies to strings, `items` to
/// arrays, `properties` to objects) rather than in `anyOf` branches, so that
/// a validator names the exact key and rule that fail.
pub fn json_schema() -> Value {
    let mut defs = Map::new();
    let mut properties = Map::new();
    for s in SECTIONS {
        let mut schema = match s.ty {
            Ty::Items(keys) => {
                let def = format!("{}_item", s.name);
                defs.insert(def.clone(), map(keys));
                json!({
                    "type": ["array", "string", "null"],
                    "items": { "$ref": format!("#/definitions/{def}") },
                    "pattern": VARIABLE,
                })
            }
            ty => value(ty, true),
        };
        let obj = schema.as_object_mut().expect("a schema is an object");
        obj.insert("description".into(), s.doc.into());
        properties.insert(s.name.into(), schema);
    }
    json!({
        "$schema": SCHEMA_DRAFT,
        "title": "hadeploy application description",
        "description": "One file (or YAML document) of a hadeploy description: sections merge across files and documents.",
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
        "definitions": defs,
    })
}

/// A map of `keys`, or a variable standing for one: unknown keys refused,
/// required ones required.
fn map(keys: &Keys) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for Key {
        name,
        ty,
        required: req,
    } in keys.iter()
    {
        if *req {
            required.push(*name);
        }
        // An optional key with no value counts as absent.
        let mut schema = value(*ty, !req);
        if keys.removable.iter().any(|k| k.name == *name) {
            removable(&mut schema);
        }
        properties.insert((*name).into(), schema);
    }
    let mut schema = json!({
        "type": ["object", "string"],
        "properties": properties,
        "additionalProperties": false,
        "pattern": VARIABLE,
    });
    let obj = schema.as_object_mut().expect("an object");
    if !required.is_empty() {
        obj.insert("required".into(), json!(required));
    }
    if !keys.one_of.is_empty() {
        let any: Vec<Value> = keys.one_of.iter().map(|k| json!({ "required": [k] })).collect();
        obj.insert("anyOf".into(), Value::Array(any));
    }
    schema
}

/// A pattern for strings: one of `alternatives`, or a string holding a variable.
fn or_variable(alternatives: &str) -> String {
    format!("^({alternatives})$|{SUBSTITUTED}")
}

fn bool_words() -> String {
    any_case(&["yes", "no", "true", "false", "on", "off", "y", "n"])
}

const STRING: &str = "A single-line string; numbers and booleans are taken as written.";

/// The schema of one value; `nullable` when it may be left empty.
fn value(ty: Ty, nullable: bool) -> Value {
    const INT: &str = r"\s*[-+]?[0-9]+\s*";
    let mut schema = match ty {
        Ty::Str | Ty::LocalPath => json!({ "description": STRING, "type": ["string", "number", "boolean"] }),
        Ty::Bool => json!({
            "description": "yes or no (true/false and on/off work too), unquoted.",
            "type": ["boolean", "string"],
            "pattern": or_variable(&bool_words()),
            "patternErrorMessage": "write yes or no, unquoted",
        }),
        Ty::Int { min, max } => {
            let mut int = json!({
                "description": "An integer.",
                "type": ["integer", "string"],
                "pattern": or_variable(INT),
                "patternErrorMessage": "write an integer",
            });
            let obj = int.as_object_mut().expect("an object");
            if min != i64::MIN {
                obj.insert("minimum".into(), min.into());
            }
            if max != i64::MAX {
                obj.insert("maximum".into(), max.into());
            }
            int
        }
        // `enum` lets editors offer the words; the variable needs a branch of its own.
        Ty::Word(words) => json!({
            "description": format!("One of: {}.", words.join(", ")),
            "anyOf": [{ "enum": words }, { "type": "string", "pattern": SUBSTITUTED }],
        }),
        Ty::Signal => {
            let sig: Vec<String> = SIGNALS.iter().map(|s| format!("(SIG)?{s}")).collect();
            let sig: Vec<&str> = sig.iter().map(String::as_str).collect();
            json!({
                "description": format!("The signal that stops the program: {}.", SIGNALS.join(", ")),
                "anyOf": [
                    { "enum": SIGNALS },
                    { "type": "string", "pattern": or_variable(&any_case(&sig)) },
                ],
            })
        }
        Ty::Mode => json!({
            "description": "An octal mode, quoted: \"0755\".",
            "type": ["string", "integer"],
            "pattern": or_variable("[0-7]{3,4}"),
            "patternErrorMessage": "write an octal mode, e.g. \"0755\"",
            "minimum": 0,
            "maximum": 7777,
        }),
        Ty::Size => json!({
            "description": "A number of bytes, optionally followed by KB, MB or GB: 50MB.",
            "type": ["integer", "string"],
            "pattern": or_variable("[0-9]+([KkMmGg][Bb])?"),
            "patternErrorMessage": "write a number of bytes, optionally followed by KB, MB or GB",
            "minimum": 0,
        }),
        Ty::StrList => json!({
            "description": "A string, or a list of strings.",
            "type": ["string", "number", "boolean", "array"],
            "items": { "description": STRING, "type": ["string", "number", "boolean"] },
        }),
        Ty::Autorestart => json!({
            "description": "Restart the program when it exits: yes, no, or `unexpected` (on an exit code not in `exitcodes`).",
            "type": ["boolean", "string"],
            "pattern": or_variable(&format!("{}|unexpected", bool_words())),
            "patternErrorMessage": "write yes, no or unexpected",
        }),
        Ty::ExitCodes => json!({
            "description": "The expected exit codes: a list, one code, or \"0,2\".",
            "type": ["array", "integer", "string"],
            "items": {
                "type": ["integer", "string"],
                "minimum": 0,
                "maximum": 255,
                "pattern": or_variable(INT),
            },
            "minimum": 0,
            "maximum": 255,
            "pattern": or_variable(r"\s*[0-9]+(\s*,\s*[0-9]+)*\s*"),
            "patternErrorMessage": "write a list of exit codes, or \"0,2\"",
        }),
        Ty::Environment => json!({
            "description": "Environment variables: a list of `KEY=value`, or a map.",
            "type": ["array", "object", "string"],
            "items": { "type": "string", "pattern": format!("^[A-Za-z_][A-Za-z0-9_]*=|{SUBSTITUTED}") },
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "additionalProperties": { "type": ["string", "number", "boolean", "null"] },
            "pattern": VARIABLE,
        }),
        Ty::Map(keys) => map(keys),
        Ty::Items(keys) => json!({ "type": ["array", "string"], "items": map(keys), "pattern": VARIABLE }),
        Ty::Vars => json!({ "description": "Variables and their values.", "type": "object" }),
        Ty::Vault => json!({
            "description": "Variables and their Ansible Vault values (`ansible-vault encrypt_string`).",
            "type": "object",
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "additionalProperties": {
                "type": "string",
                "pattern": r"^\s*\$ANSIBLE_VAULT;",
                "patternErrorMessage": "an Ansible Vault value: `!vault |` followed by `$ANSIBLE_VAULT;...`",
            },
        }),
    };
    if nullable {
        let obj = schema.as_object_mut().expect("an object");
        match obj.get_mut("type") {
            Some(Value::Array(types)) => types.push("null".into()),
            Some(t) => *t = json!([t.clone(), "null"]),
            None => {
                if let Some(Value::Array(any)) = obj.get_mut("anyOf") {
                    any.push(json!({ "type": "null" }));
                }
            }
        }
    }
    schema
}

/// Lets `schema` take an empty string as well, which removes the value.
fn removable(schema: &mut Value) {
    let obj = schema.as_object_mut().expect("an object");
    if let Some(Value::String(pattern)) = obj.get_mut("pattern") {
        *pattern = format!("^$|{pattern}");
    } else if let Some(Value::Array(any)) = obj.get_mut("anyOf") {
        any.push(json!({ "const": "" }));
    }
}

/// An ECMA-262 pattern matching each word in any case (`yes` -> `[Yy][Ee][Ss]`),
/// since JSON Schema patterns take no flags.
fn any_case(words: &[&str]) -> String {
    // Anything else, such as the group of `(SIG)?INT`, passes through.
    let word = |w: &str| -> String {
        w.chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    words.iter().map(|w| word(w)).collect::<Vec<_>>().join("|")
}

#[cfg(test)]
mod tests {
    use super::any_case;

    #[test]
    fn patterns_ignore_case() {
        assert_eq!(any_case(&["no", "y"]), "[Nn][Oo]|[Yy]");
        assert_eq!(any_case(&["(SIG)?INT"]), "([Ss][Ii][Gg])?[Ii][Nn][Tt]");
        assert_eq!(any_case(&["USR1"]), "[Uu][Ss][Rr]1");
    }
}
