//! Loading: sources in order, documents and repeated keys merged, `include`
//! followed, `vars` substituted in one pass. The result is one tree, still
//! untyped, whose every node knows its file, line and column.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::error::{Diagnostic, ErrorKind, Sink, did_you_mean};
use crate::span::{FileId, SourceMap, Span};
use crate::tree::{self, MAX_FILE, MAX_NODES, Node, NodeKind};

/// Deepest chain of includes accepted.
const MAX_INCLUDE_DEPTH: usize = 32;

/// One `--src` argument: a file to load, or `name=value` defining a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrcArg {
    /// A description file.
    File(PathBuf),
    /// A description already in memory, shown and resolved as if read from
    /// `path` (includes and relative paths start from its folder).
    Text {
        /// Where the text would live.
        path: PathBuf,
        /// The YAML text.
        text: String,
    },
    /// A variable set on the command line.
    Var {
        /// The variable's name.
        name: String,
        /// Its value, typed like an unquoted YAML scalar.
        value: String,
    },
}

impl SrcArg {
    /// Reads a `--src` value the way HADeploy did: one holding `=` is a variable.
    pub fn parse(arg: &str) -> SrcArg {
        match arg.split_once('=') {
            Some((name, value)) => SrcArg::Var {
                name: name.trim().to_string(),
                value: value.to_string(),
            },
            None => SrcArg::File(PathBuf::from(arg)),
        }
    }
}

/// The merged, substituted description, before typing.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Top-level sections in first-seen order, each key once.
    pub root: Vec<(Node, Node)>,
    /// Every variable, with its last value, in definition order.
    pub vars: IndexMap<String, Node>,
    /// The sources the spans point into.
    pub sources: SourceMap,
}

/// Loads sources in order into one tree.
pub(crate) fn load(srcs: &[SrcArg], sink: &mut Sink) -> Loaded {
    let mut loader = Loader {
        sources: SourceMap::default(),
        vars: IndexMap::new(),
        definitions: Vec::new(),
        undefined: Vec::new(),
        root: Vec::new(),
        stack: Vec::new(),
        budget: MAX_NODES,
    };
    let cli = loader.sources.add(PathBuf::from("<command line>"), String::new());
    for (i, src) in srcs.iter().enumerate() {
        match src {
            SrcArg::File(path) => loader.load_file(path.clone(), None, sink),
            SrcArg::Text { path, text } => loader.load_text(path.clone(), text.clone(), None, sink),
            SrcArg::Var { name, value } => {
                let span = Span {
                    file: cli,
                    line: 1,
                    col: u32::try_from(i + 1).unwrap_or(u32::MAX),
                };
                if !is_var_name(name) {
                    sink.push(
                        Diagnostic::unplaced(ErrorKind::InvalidValue {
                            key: "--src".into(),
                            reason: format!("`{name}` is not a variable name"),
                        })
                        .help("write `--src name=value`, with a name of letters, digits and `_`"),
                    );
                    continue;
                }
                loader.define(name.clone(), Node::scalar(value.clone(), true, span));
            }
        }
    }
    loader.report_undefined(sink);
    Loaded {
        root: loader.root,
        vars: loader.vars,
        sources: loader.sources,
    }
}

struct Loader {
    sources: SourceMap,
    vars: IndexMap<String, Node>,
    /// Every definition in load order, to tell "defined later" apart from "never".
    definitions: Vec<(String, Span)>,
    /// Uses of names undefined at the time, reported at the end.
    undefined: Vec<(String, Span)>,
    root: Vec<(Node, Node)>,
    /// Canonical paths of the files being loaded, for include cycles.
    stack: Vec<PathBuf>,
    budget: usize,
}

impl Loader {
    fn load_file(&mut self, path: PathBuf, included_at: Option<Span>, sink: &mut Sink) {
        let place = |kind: ErrorKind| match included_at {
            Some(span) => Diagnostic::new(kind, span),
            None => Diagnostic::unplaced(kind),
        };
        let shown = path.display().to_string();
        let text = match read_source(&path) {
            Ok(text) => text,
            Err(reason) => {
                let d = place(ErrorKind::Read { path: shown, reason });
                sink.push(d.maybe_help(
                    included_at.map(|_| "include paths are relative to the file that names them".to_string()),
                ));
                return;
            }
        };
        self.load_text(path, text, included_at, sink);
    }

    fn load_text(&mut self, path: PathBuf, text: String, included_at: Option<Span>, sink: &mut Sink) {
        let place = |kind: ErrorKind| match included_at {
            Some(span) => Diagnostic::new(kind, span),
            None => Diagnostic::unplaced(kind),
        };
        let shown = path.display().to_string();
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        if self.stack.contains(&canonical) {
            sink.push(place(ErrorKind::IncludeCycle(shown)).help("remove one of the `include:` lines of the cycle"));
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            sink.push(place(ErrorKind::Limit(format!(
                "includes are nested more than {MAX_INCLUDE_DEPTH} levels deep"
            ))));
            return;
        }
        let file = self.sources.add(path, text);
        let docs = match tree::parse(&self.sources.get(file).text, file, &mut self.budget) {
            Ok(docs) => docs,
            Err((kind, span)) => {
                let help = match kind {
                    ErrorKind::Syntax(_) => "check the indentation and the quoting around this position",
                    _ => {
                        "the loader refuses inputs this large or deep; look for aliases (`*name`) nested in each other"
                    }
                };
                sink.push(Diagnostic::new(kind, span).help(help));
                return;
            }
        };
        self.stack.push(canonical);
        for doc in docs {
            match doc.kind {
                NodeKind::Map(entries) => {
                    for (key, value) in entries {
                        self.section(file, key, value, sink);
                    }
                }
                NodeKind::Scalar(ref s) if s.is_null() => {}
                _ => sink.err(ErrorKind::TopLevelNotMap(kind_name(&doc)), doc.span),
            }
        }
        self.stack.pop();
    }

    fn section(&mut self, file: FileId, key: Node, value: Node, sink: &mut Sink) {
        let name = key.as_scalar().map(|s| s.text.as_str()).unwrap_or_default();
        match name {
            "vars" => match value.kind {
                NodeKind::Map(entries) => {
                    for (k, v) in entries {
                        let var = k.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
                        if !is_var_name(&var) {
                            sink.push(
                                Diagnostic::new(
                                    ErrorKind::InvalidValue {
                                        key: "vars".into(),
                                        reason: format!("`{var}` is not a variable name"),
                                    },
                                    k.span,
                                )
                                .help("use letters, digits and `_`, starting with a letter or `_`"),
                            );
                            continue;
                        }
                        let v = self.substitute(v, sink);
                        self.definitions.push((var.clone(), k.span));
                        self.vars.insert(var, v);
                    }
                }
                _ if value.is_null() => {}
                _ => sink.err(
                    ErrorKind::WrongType {
                        key: "vars".into(),
                        expected: "a map of variables",
                        found: value.describe(),
                    },
                    value.span,
                ),
            },
            "include" => {
                let undefined = self.undefined.len();
                let value = self.substitute(value, sink);
                if self.undefined.len() > undefined {
                    // The path is unknown; its variable error says why.
                    return;
                }
                let paths = match value.kind {
                    NodeKind::Seq(items) => items,
                    NodeKind::Scalar(_) => vec![value],
                    NodeKind::Map(_) => {
                        sink.err(
                            ErrorKind::WrongType {
                                key: "include".into(),
                                expected: "a path or a list of paths",
                                found: "a map".into(),
                            },
                            value.span,
                        );
                        return;
                    }
                };
                for item in paths {
                    match item.as_scalar() {
                        Some(s) if !s.is_null() => {
                            let path = self.sources.dir_of(file).join(&s.text);
                            self.load_file(path, Some(item.span), sink);
                        }
                        _ => sink.err(
                            ErrorKind::WrongType {
                                key: "include".into(),
                                expected: "a path",
                                found: item.describe(),
                            },
                            item.span,
                        ),
                    }
                }
            }
            _ => {
                let value = self.substitute(value, sink);
                merge_entry(&mut self.root, key, value);
            }
        }
    }

    fn define(&mut self, name: String, value: Node) {
        self.definitions.push((name.clone(), value.span));
        self.vars.insert(name, value);
    }

    /// Replaces `${name}` and `<<name>>` in every scalar of a value, with the
    /// variables defined so far.
    fn substitute(&mut self, node: Node, sink: &mut Sink) -> Node {
        let span = node.span;
        match node.kind {
            NodeKind::Scalar(s) => {
                let refs = find_refs(&s.text);
                if refs.is_empty() {
                    return Node {
                        kind: NodeKind::Scalar(s),
                        span,
                    };
                }
                // A value that is exactly one reference takes the variable's
                // value whole: a map stays a map, and the use site's quoting
                // decides whether the text is typed.
                if let [r] = refs.as_slice()
                    && r.start == 0
                    && r.end == s.text.len()
                    && let Some(value) = r.name.map(|n| self.lookup(n))
                {
                    return match value {
                        Some(Node {
                            kind: NodeKind::Scalar(v),
                            ..
                        }) => Node::scalar(v.text.clone(), s.plain, span),
                        Some(v) => {
                            let v = v.clone();
                            if self.budget < v.size() {
                                sink.err(
                                    ErrorKind::Limit(format!(
                                        "the description expands to more than {MAX_NODES} values (variables included)"
                                    )),
                                    span,
                                );
                                return Node::scalar(String::new(), false, span);
                            }
                            self.budget -= v.size();
                            v
                        }
                        None => {
                            let name = r.name.unwrap_or_default().to_string();
                            self.undefined.push((name, ref_span(span, &s, r.start)));
                            Node::scalar(s.text, s.plain, span)
                        }
                    };
                }
                let mut out = String::with_capacity(s.text.len());
                let mut last = 0;
                for r in &refs {
                    out.push_str(&s.text[last..r.start]);
                    last = r.end;
                    let Some(name) = r.name else {
                        out.push_str("${");
                        continue;
                    };
                    match self.lookup(name) {
                        Some(Node {
                            kind: NodeKind::Scalar(v),
                            ..
                        }) => out.push_str(&v.text),
                        Some(v) => {
                            let what = kind_name(v);
                            sink.push(
                                Diagnostic::new(
                                    ErrorKind::VariableNotScalar(name.to_string(), what),
                                    ref_span(span, &s, r.start),
                                )
                                .help(format!(
                                    "use `${{{name}}}` alone as the value, or name one of its scalar members"
                                )),
                            );
                        }
                        None => {
                            self.undefined.push((name.to_string(), ref_span(span, &s, r.start)));
                            out.push_str(&s.text[r.start..r.end]);
                        }
                    }
                }
                out.push_str(&s.text[last..]);
                Node::scalar(out, s.plain, span)
            }
            NodeKind::Seq(items) => Node {
                kind: NodeKind::Seq(items.into_iter().map(|i| self.substitute(i, sink)).collect()),
                span,
            },
            NodeKind::Map(entries) => Node {
                kind: NodeKind::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k, self.substitute(v, sink)))
                        .collect(),
                ),
                span,
            },
        }
    }

    /// `name`, or `a.b.c` walking into map variables.
    fn lookup(&self, name: &str) -> Option<&Node> {
        if let Some(v) = self.vars.get(name) {
            return Some(v);
        }
        let mut parts = name.split('.');
        let mut node = self.vars.get(parts.next()?)?;
        for part in parts {
            node = node
                .as_map()?
                .iter()
                .rev()
                .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == part))
                .map(|(_, v)| v)?;
        }
        Some(node)
    }

    fn report_undefined(&mut self, sink: &mut Sink) {
        for (name, span) in std::mem::take(&mut self.undefined) {
            let root = name.split('.').next().unwrap_or(&name);
            let later = self.definitions.iter().find(|(n, _)| n == root).map(|(_, s)| *s);
            let help = match later {
                Some(def) if self.lookup(&name).is_some() || root == name => {
                    let at = self.sources.get(def.file).path.display();
                    Some(format!(
                        "`{root}` is defined later, at {at}:{}:{}; a variable must be defined before it is used",
                        def.line, def.col
                    ))
                }
                Some(_) => Some(format!("`{root}` has no member `{}`", &name[root.len() + 1..])),
                None => did_you_mean(&name, self.vars.keys().map(String::as_str)).or_else(|| {
                    Some(format!(
                        "define it in a `vars:` block loaded before this line, or pass `--src {name}=VALUE` first; write `$${{` for a literal `${{`"
                    ))
                }),
            };
            sink.push(Diagnostic::new(ErrorKind::UndefinedVariable(name), span).maybe_help(help));
        }
    }
}

fn read_source(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| io_reason(&e))?;
    if meta.is_dir() {
        return Err("it is a folder".into());
    }
    if meta.len() > MAX_FILE {
        return Err(format!("it is larger than {} MiB", MAX_FILE >> 20));
    }
    let bytes = std::fs::read(path).map_err(|e| io_reason(&e))?;
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())
}

/// The OS error without Rust's "(os error 2)" suffix.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_string()
        }
    }
}

pub(crate) fn kind_name(node: &Node) -> &'static str {
    match node.kind {
        NodeKind::Scalar(_) => "scalar",
        NodeKind::Seq(_) => "list",
        NodeKind::Map(_) => "map",
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A `${...}` / `<<...>>` reference, or a `$${` escape (`name` is `None`).
#[derive(Debug, PartialEq)]
struct Ref<'a> {
    start: usize,
    end: usize,
    name: Option<&'a str>,
}

fn is_ref_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

fn find_refs(text: &str) -> Vec<Ref<'_>> {
    let mut refs = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    // Markers are ASCII, so every index where one starts is a char boundary.
    while i < b.len() {
        if b[i..].starts_with(b"$${") {
            refs.push(Ref {
                start: i,
                end: i + 3,
                name: None,
            });
            i += 3;
            continue;
        }
        let close = if b[i..].starts_with(b"${") {
            "}"
        } else if b[i..].starts_with(b"<<") {
            ">>"
        } else {
            i += 1;
            continue;
        };
        let body = i + 2;
        if let Some(len) = text[body..].find(close) {
            let name = &text[body..body + len];
            if is_ref_name(name) {
                let end = body + len + close.len();
                refs.push(Ref {
                    start: i,
                    end,
                    name: Some(name),
                });
                i = end;
                continue;
            }
        }
        i += 1;
    }
    refs
}

/// Where a reference starts, when the scalar is on one line.
fn ref_span(span: Span, s: &tree::Scalar, offset: usize) -> Span {
    if s.text.contains('\n') {
        return span;
    }
    let quote = u32::from(!s.plain);
    let chars = u32::try_from(s.text[..offset].chars().count()).unwrap_or(0);
    Span {
        col: span.col + quote + chars,
        ..span
    }
}

/// Merges `value` under `key` into a map: maps merge key by key, lists
/// append, anything else is replaced by the later value.
fn merge_entry(entries: &mut Vec<(Node, Node)>, key: Node, value: Node) {
    let value = merge_repeated_keys(value);
    let text = key.as_scalar().map(|s| s.text.as_str());
    match entries
        .iter_mut()
        .find(|(k, _)| k.as_scalar().map(|s| s.text.as_str()) == text)
    {
        Some((_, existing)) => merge_values(existing, value),
        None => entries.push((key, value)),
    }
}

fn merge_values(existing: &mut Node, value: Node) {
    match (&mut existing.kind, value.kind) {
        (NodeKind::Map(old), NodeKind::Map(new)) => {
            for (k, v) in new {
                merge_entry(old, k, v);
            }
        }
        (NodeKind::Seq(old), NodeKind::Seq(new)) => old.extend(new),
        (_, kind) => *existing = Node { kind, span: value.span },
    }
}

/// A map written with the same key twice holds both, merged.
pub(crate) fn merge_repeated_keys(node: Node) -> Node {
    match node.kind {
        NodeKind::Map(entries) => {
            let mut merged = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                merge_entry(&mut merged, k, v);
            }
            Node {
                kind: NodeKind::Map(merged),
                span: node.span,
            }
        }
        NodeKind::Seq(items) => Node {
            kind: NodeKind::Seq(items.into_iter().map(merge_repeated_keys).collect()),
            span: node.span,
        },
        kind => Node { kind, span: node.span },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_both_reference_spellings_and_the_escape() {
        let refs = find_refs("a ${x} <<y.z>> $${HOME} ${bad name} {{ ansible }}");
        let names: Vec<_> = refs.iter().map(|r| r.name).collect();
        assert_eq!(names, vec![Some("x"), Some("y.z"), None]);
    }
}
