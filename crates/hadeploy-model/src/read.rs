//! Typed reads from the loaded tree: every read reports a precise error and
//! lets the resolution go on, so one run shows every mistake.

use std::path::PathBuf;

use crate::error::{Diagnostic, ErrorKind, Sink, did_you_mean};
use crate::format::{Keys, Ty};
use crate::span::{SourceMap, Span};
use crate::tree::{Node, NodeKind, Typed};

/// A value with the position it was written at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// The keys of one map item, checked against the keys its section allows.
pub(crate) struct Fields<'a> {
    /// "a `supervisors` item", for messages.
    pub(crate) what: String,
    pub(crate) span: Span,
    keys: &'static Keys,
    entries: &'a [(Node, Node)],
}

impl<'a> Fields<'a> {
    /// Reads a map item, reporting keys outside `keys` (with a suggestion).
    pub(crate) fn new(node: &'a Node, keys: &'static Keys, sink: &mut Sink) -> Option<Self> {
        let what = keys.what.to_string();
        let Some(entries) = node.as_map() else {
            sink.err(
                ErrorKind::WrongType {
                    key: what.clone(),
                    expected: "a map",
                    found: node.describe(),
                },
                node.span,
            );
            return None;
        };
        for (k, _) in entries {
            let key = k.as_scalar().map(|s| s.text.as_str()).unwrap_or_default();
            if keys.get(key).is_none() {
                let known = keys.names();
                let help = if key == "<<" {
                    "`<<` merges a map into this one: write `<<: *anchor` where the anchor names a map".to_string()
                } else {
                    sink.did_you_mean(key, known.iter().copied())
                        .unwrap_or_else(|| format!("the keys allowed here are: {}", known.join(", ")))
                };
                sink.push(
                    Diagnostic::new(
                        ErrorKind::UnknownKey {
                            key: key.to_string(),
                            what: what.clone(),
                        },
                        k.span,
                    )
                    .help(help),
                );
            }
        }
        Some(Fields {
            what,
            span: node.span,
            keys,
            entries,
        })
    }

    /// Checks, in tests and debug builds, that `key` is read as its table in
    /// [`crate::format`] says: a key read here but missing there would be
    /// rejected as unknown, and the schema would describe another type.
    fn declared(&self, key: &str, read_as: impl Fn(Ty) -> bool) {
        if cfg!(debug_assertions) {
            let declared = self.keys.get(key).map(|k| k.ty);
            assert!(
                declared.is_some_and(read_as),
                "{} reads `{key}`, declared {declared:?} in `format`",
                self.what
            );
        }
    }

    /// The value under `key`; a null value counts as absent.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Node> {
        self.declared(key, |_| true);
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    fn missing(&self, key: &'static str, sink: &mut Sink) {
        sink.push(
            Diagnostic::new(
                ErrorKind::MissingKey {
                    key,
                    what: self.what.clone(),
                },
                self.span,
            )
            .help(format!("add `{key}:` to this item")),
        );
    }

    /// A required single-line string.
    pub(crate) fn req_str(&self, key: &'static str, sink: &mut Sink) -> Option<Spanned<String>> {
        debug_assert!(
            self.keys.get(key).is_some_and(|k| k.required),
            "{} requires `{key}`, optional in `format`",
            self.what
        );
        let v = self.opt_str(key, sink);
        if v.is_none() && self.get(key).is_none() {
            self.missing(key, sink);
        }
        v
    }

    /// An optional single-line string. Plain numbers and booleans are taken
    /// as written (`mode: 0755` is the string "0755").
    pub(crate) fn opt_str(&self, key: &str, sink: &mut Sink) -> Option<Spanned<String>> {
        self.declared(key, |t| {
            matches!(
                t,
                Ty::Str | Ty::LocalPath | Ty::Mode | Ty::Size | Ty::Signal | Ty::Word(_)
            )
        });
        let node = self.get(key)?;
        string(node, key, sink)
    }

    /// A boolean with a default.
    pub(crate) fn bool_or(&self, key: &str, default: bool, sink: &mut Sink) -> bool {
        self.opt_bool(key, sink).unwrap_or(default)
    }

    /// An optional boolean ([`boolean`]).
    pub(crate) fn opt_bool(&self, key: &str, sink: &mut Sink) -> Option<bool> {
        self.declared(key, |t| t == Ty::Bool);
        boolean(self.get(key)?, key, sink)
    }

    /// An optional integer within `min..=max`.
    pub(crate) fn opt_int(&self, key: &str, min: i64, max: i64, sink: &mut Sink) -> Option<i64> {
        self.declared(key, |t| t == Ty::Int { min, max });
        let node = self.get(key)?;
        int(node, key, min, max, sink)
    }

    /// An optional list of single-line strings; a lone string counts as a list of one.
    pub(crate) fn str_list(&self, key: &str, sink: &mut Sink) -> Vec<Spanned<String>> {
        self.declared(key, |t| t == Ty::StrList);
        let Some(node) = self.get(key) else { return Vec::new() };
        match &node.kind {
            NodeKind::Seq(items) => items.iter().filter_map(|i| string(i, key, sink)).collect(),
            NodeKind::Scalar(_) => string(node, key, sink).into_iter().collect(),
            NodeKind::Map(_) => {
                wrong(key, "a string or a list of strings", node, sink);
                Vec::new()
            }
        }
    }

    /// One of a fixed set of words.
    pub(crate) fn opt_choice(&self, key: &str, choices: &[&str], sink: &mut Sink) -> Option<Spanned<String>> {
        self.declared(key, |t| matches!(t, Ty::Word(w) if w == choices));
        let s = self.opt_str(key, sink)?;
        if choices.contains(&s.value.as_str()) {
            return Some(s);
        }
        let help = did_you_mean(&s.value, choices.iter().copied())
            .unwrap_or_else(|| format!("use one of: {}", choices.join(", ")));
        sink.push(
            Diagnostic::invalid_value(
                key,
                format!("`{}` is not one of {}", s.value, choices.join(", ")),
                s.span,
            )
            .help(help),
        );
        None
    }
}

/// Resolves a local path against the folder of the file that names it.
pub(crate) fn local_path(text: &str, span: Span, sources: &SourceMap) -> PathBuf {
    let p = home_expanded(text);
    let joined = if p.is_absolute() {
        p
    } else {
        sources.dir_of(span.file).join(p)
    };
    // `./templates` reads better as `templates` in messages and the model.
    let path: PathBuf = joined
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    sources.note_input(path.clone(), Some(span));
    path
}

/// A boolean: `yes/no/true/false/on/off/y/n`, unquoted (or, for the keys
/// HADeploy types as strings, [`QUOTED_BOOLS`], quoted too).
pub(crate) fn boolean(node: &Node, key: &str, sink: &mut Sink) -> Option<bool> {
    let quoted_ok = QUOTED_BOOLS.contains(&key);
    match node.as_scalar().map(|s| (s.typed(), crate::format::bool_word(&s.text))) {
        Some((Typed::Bool(b), _)) => Some(b),
        Some((_, Some(b))) if quoted_ok => Some(b),
        _ => {
            let d = Diagnostic::new(
                ErrorKind::WrongType {
                    key: key.to_string(),
                    expected: "a boolean (yes/no)",
                    found: node.describe(),
                },
                node.span,
            );
            let quoted = node.as_scalar().is_some_and(|s| {
                !s.plain
                    && matches!(
                        s.text.to_ascii_lowercase().as_str(),
                        "yes" | "no" | "true" | "false" | "on" | "off"
                    )
            });
            sink.push(if quoted {
                d.help("remove the quotes: a quoted value is always a string")
            } else {
                d.help("write yes or no (true/false and on/off work too)")
            });
            None
        }
    }
}

/// Booleans that HADeploy's schema types as strings: there, `"true"` or
/// `"yes"` quoted is what a user writes, so it is read as a boolean too.
const QUOTED_BOOLS: &[&str] = &["ssh_pipelining"];

/// `~` or `~/...` as the shell expands it, from `HOME`; any other path as written.
pub(crate) fn home_expanded(text: &str) -> PathBuf {
    let rest = match text.strip_prefix('~') {
        Some("") => Some(""),
        Some(r) if r.starts_with('/') => Some(&r[1..]),
        _ => None,
    };
    match (rest, std::env::var_os("HOME")) {
        (Some(rest), Some(home)) if !home.is_empty() => PathBuf::from(home).join(rest),
        _ => PathBuf::from(text),
    }
}

/// A scalar as a single-line string.
pub(crate) fn string(node: &Node, key: &str, sink: &mut Sink) -> Option<Spanned<String>> {
    let Some(s) = node.as_scalar() else {
        wrong(key, "a string", node, sink);
        return None;
    };
    if s.vault {
        sink.push(vault_elsewhere(key, node.span));
        return None;
    }
    if let Some(c) = s.text.chars().find(|c| c.is_control() && *c != '\t') {
        sink.push(
            Diagnostic::invalid_value(key, format!("it contains the control character {c:?}"), node.span).help(
                "this value ends up on one line of a configuration file: remove line breaks and control characters",
            ),
        );
        return None;
    }
    Some(Spanned {
        value: s.text.clone(),
        span: node.span,
    })
}

/// A `!vault` value outside `encrypted_vars`: hadeploy cannot decrypt it,
/// and written as is it would be taken for its own ciphertext.
pub(crate) fn vault_elsewhere(key: &str, span: Span) -> Diagnostic {
    Diagnostic::invalid_value(key, "a `!vault` value is only read in `encrypted_vars`", span)
    .help("move it to `encrypted_vars:` under a name, e.g. `vault_secret`, and write `\"{{ vault_secret }}\"` here: Ansible decrypts it when it runs")
}

/// A scalar as an integer within `min..=max`.
pub(crate) fn int(node: &Node, key: &str, min: i64, max: i64, sink: &mut Sink) -> Option<i64> {
    match node.as_scalar().map(|s| (s.typed(), s.text.trim().parse::<i64>())) {
        Some((Typed::Int(i), _) | (Typed::Str(_), Ok(i))) if (min..=max).contains(&i) => Some(i),
        Some((Typed::Int(i), _) | (Typed::Str(_), Ok(i))) => {
            sink.err(
                ErrorKind::InvalidValue {
                    key: key.to_string(),
                    reason: format!("{i} is outside {min}..={max}"),
                },
                node.span,
            );
            None
        }
        _ => {
            wrong(key, "an integer", node, sink);
            None
        }
    }
}

pub(crate) fn wrong(key: &str, expected: &'static str, node: &Node, sink: &mut Sink) {
    sink.err(
        ErrorKind::WrongType {
            key: key.to_string(),
            expected,
            found: node.describe(),
        },
        node.span,
    );
}

/// The items of a top-level list section, without those whose `when` is false.
pub(crate) fn section_items<'a>(root: &'a [(Node, Node)], section: &str, sink: &mut Sink) -> Vec<&'a Node> {
    let Some((_, node)) = root
        .iter()
        .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == section))
    else {
        return Vec::new();
    };
    let items: Vec<&Node> = match &node.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        NodeKind::Scalar(s) if s.is_null() => Vec::new(),
        _ => {
            wrong(section, "a list", node, sink);
            return Vec::new();
        }
    };
    items
        .into_iter()
        .filter(|item| {
            let Some(entries) = item.as_map() else { return true };
            let Some((_, when)) = entries.iter().rev().find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "when"))
            else {
                return true;
            };
            match when.as_scalar().map(|s| s.typed()) {
                Some(Typed::Bool(b)) => b,
                _ => {
                    sink.push(
                        Diagnostic::new(
                            ErrorKind::WrongType {
                                key: "when".into(),
                                expected: "a boolean (yes/no)",
                                found: when.describe(),
                            },
                            when.span,
                        )
                        .help("`when` is decided when the description is loaded: use a variable, e.g. `when: ${with_web_ui}`"),
                    );
                    false
                }
            }
        })
        .collect()
}
