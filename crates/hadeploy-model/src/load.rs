//! Loading: sources in order, documents and repeated keys merged, `include`
//! followed, `vars` substituted in one pass. The result is one tree, still
//! untyped, whose every node knows its file, line and column.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::error::{Diagnostic, ErrorKind, Sink};
use crate::format::is_var_name;
use crate::span::{FileId, SourceMap, Span};
use crate::tree::{self, Budget, Cost, MAX_DEPTH, MAX_FILE, MAX_SCALAR, Node, NodeKind, Scalar};

/// Deepest chain of includes accepted.
pub const MAX_INCLUDE_DEPTH: usize = 32;
/// Most files one load reads, each `include` counting once more.
pub const MAX_FILES: usize = 1024;
/// Most bytes of source text one load reads, all files together.
pub const MAX_SOURCE_BYTES: usize = 64 << 20;

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
        generations: Vec::new(),
        next_generation: 0,
        members: HashMap::new(),
        first_definitions: HashMap::new(),
        undefined: Vec::new(),
        root: Vec::new(),
        stack: Vec::new(),
        budget: Budget::default(),
        files: 0,
        source_bytes: 0,
        limit_reported: false,
        jinja: crate::jinja::Jinja::new(),
        context: None,
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
                if crate::expr::has_jinja_marker(value) {
                    // A value typed on a command line is data: it may not
                    // bring an Ansible expression into the description.
                    sink.push(
                        Diagnostic::unplaced(ErrorKind::InvalidValue {
                            key: "--src".into(),
                            reason: format!("the value of `{name}` holds `{{{{`, `{{%` or `{{#`"),
                        })
                        .help("a value given on the command line is data, never an Ansible expression: write the expression in the description, where `${name}` is used"),
                    );
                    continue;
                }
                loader.define(name.clone(), span, Node::scalar(value.clone(), true, span));
            }
        }
    }
    loader.report_undefined(sink);
    Loaded {
        root: merge_entries(std::mem::take(&mut loader.root)),
        vars: loader.vars,
        sources: loader.sources,
    }
}

struct Loader {
    sources: SourceMap,
    vars: IndexMap<String, Node>,
    /// For each variable (by index in `vars`), which definition holds it now.
    generations: Vec<u64>,
    next_generation: u64,
    /// Keys of the map variables read with `${a.b}`, indexed on first use:
    /// (generation, path) -> key -> entry. Lookups stay constant-time
    /// however large the map.
    members: HashMap<(u64, String), HashMap<String, usize>>,
    /// Where each variable is first defined, to tell "defined later" apart from "never".
    first_definitions: HashMap<String, Span>,
    /// Uses of names undefined at the time, reported at the end.
    undefined: Vec<(String, Span)>,
    /// Top-level entries in load order, merged once at the end.
    root: Vec<(Node, Node)>,
    /// Canonical paths of the files being loaded, for include cycles.
    stack: Vec<PathBuf>,
    budget: Budget,
    /// Files read so far, and their bytes.
    files: usize,
    source_bytes: usize,
    /// A limit was crossed by a substitution: said once, not at every value.
    limit_reported: bool,
    /// Renders the values that are more than plain references.
    jinja: crate::jinja::Jinja,
    /// The variables as Jinja sees them, with the generation they were
    /// built at: rebuilt only after a new definition.
    context: Option<(u64, minijinja::Value)>,
}

impl Loader {
    fn load_file(&mut self, path: PathBuf, included_at: Option<Span>, sink: &mut Sink) {
        let place = |kind: ErrorKind| match included_at {
            Some(span) => Diagnostic::new(kind, span),
            None => Diagnostic::unplaced(kind),
        };
        let shown = path.display().to_string();
        self.sources.note_input(path.clone(), included_at);
        let text = match read_source(&path) {
            Ok(text) => text,
            Err(reason) => {
                let missing = reason == "no such file";
                let d = place(ErrorKind::Read { path: shown, reason });
                sink.push(
                    d.maybe_help(
                        (missing && included_at.is_some())
                            .then(|| "include paths are relative to the file that names them".to_string()),
                    ),
                );
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
        self.files += 1;
        self.source_bytes = self.source_bytes.saturating_add(text.len());
        let over = if self.files > MAX_FILES {
            Some(format!(
                "the description reads more than {MAX_FILES} files (each include counts)"
            ))
        } else if self.source_bytes > MAX_SOURCE_BYTES {
            Some(format!(
                "the description's files add up to more than {} MiB (each include counts)",
                MAX_SOURCE_BYTES >> 20
            ))
        } else {
            None
        };
        if let Some(reason) = over {
            if !std::mem::replace(&mut self.limit_reported, true) {
                sink.push(
                    place(ErrorKind::Limit(reason))
                        .help("include each file once; a file included from a list is read again at each mention"),
                );
            }
            return;
        }
        let file = self.sources.add(path, text);
        let docs = match tree::parse(&self.sources.get(file).text, file, &mut self.budget) {
            Ok(docs) => docs,
            Err((kind, span)) => {
                // The line is quoted only from what reads as a description
                // up to it: a key file or `/proc/self/environ` is not echoed.
                let quotable = crate::span::yaml_lines(&self.sources.get(file).text)
                    .take(span.line as usize)
                    .any(names_a_section);
                if !quotable {
                    self.sources.forget_text(file);
                }
                let help = match &kind {
                    ErrorKind::Syntax(m) if m.starts_with("the tag") => {
                        "write the value without the tag (a `!vault` value belongs in `encrypted_vars`)"
                    }
                    ErrorKind::Syntax(m) if m.contains("tab") => "YAML indents with spaces: replace this tab",
                    ErrorKind::Syntax(_) => "check the indentation and the quoting around this position",
                    ErrorKind::InvalidValue { .. } => "remove `#jinja2:` from the start of the value",
                    _ => {
                        "the loader refuses inputs this large or deep; look for aliases (`*name`) nested in each other"
                    }
                };
                sink.push(Diagnostic::new(kind, span).help(help));
                return;
            }
        };
        if !looks_like_a_description(&docs) {
            self.sources.forget_text(file);
            sink.push(place(ErrorKind::NotADescription(shown)).help(
                "a description is a YAML map of sections (`hosts:`, `users:`, `supervisors:`...): check the path",
            ));
            return;
        }
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
                                Diagnostic::invalid_value("vars", format!("`{var}` is not a variable name"), k.span)
                                    .help("use letters, digits and `_`, starting with a letter or `_`"),
                            );
                            continue;
                        }
                        if let Some(span) = vault_span(&v) {
                            sink.push(crate::read::vault_elsewhere(&var, span));
                            continue;
                        }
                        // Within the root map and the `vars` map.
                        let v = self.substitute(v, 2, sink);
                        self.define(var, k.span, v);
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
                let value = self.substitute(value, 1, sink);
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
                            let path = self.sources.dir_of(file).join(crate::read::home_expanded(&s.text));
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
                let value = self.substitute(value, 1, sink);
                self.root.push((key, value));
            }
        }
    }

    fn define(&mut self, name: String, at: Span, value: Node) {
        self.first_definitions.entry(name.clone()).or_insert(at);
        let (i, _) = self.vars.insert_full(name, value);
        let generation = self.next_generation;
        self.next_generation += 1;
        if i == self.generations.len() {
            self.generations.push(generation);
        } else {
            self.generations[i] = generation;
        }
    }

    /// Pays for a value a substitution produces; on a crossed limit, reports
    /// it once and answers false.
    fn spend(&mut self, cost: Cost, span: Span, sink: &mut Sink) -> bool {
        match self.budget.spend(cost, "variables included") {
            Ok(()) => true,
            Err(kind) => {
                self.limit(kind, span, sink);
                false
            }
        }
    }

    fn limit(&mut self, kind: ErrorKind, span: Span, sink: &mut Sink) {
        if !std::mem::replace(&mut self.limit_reported, true) {
            sink.push(
                Diagnostic::new(kind, span)
                    .help("the loader refuses values this large or deep; look for variables used inside each other"),
            );
        }
    }

    /// Replaces `${name}` and `<<name>>` in every scalar of a value, with the
    /// variables defined so far. `depth` counts the lists and maps around
    /// the value, so that a variable cannot nest values past [`MAX_DEPTH`].
    fn substitute(&mut self, node: Node, depth: usize, sink: &mut Sink) -> Node {
        let span = node.span;
        match node.kind {
            NodeKind::Scalar(s) => {
                if jinja_needed(&s.text) {
                    return self.render(s, span, sink);
                }
                let refs = find_refs(&s.text);
                match refs.as_slice() {
                    [] => Node {
                        kind: NodeKind::Scalar(s),
                        span,
                    },
                    // A value that is exactly one reference takes the variable's
                    // value whole: a map stays a map, and the use site's quoting
                    // decides whether the text is typed.
                    [r] if r.start == 0 && r.end == s.text.len() && r.name.is_some() => {
                        let name = r.name.unwrap_or_default().to_string();
                        self.whole(s, &name, span, depth, sink)
                    }
                    _ => self.interpolate(&s, &refs, span, sink),
                }
            }
            NodeKind::Seq(items) => Node {
                kind: NodeKind::Seq(items.into_iter().map(|i| self.substitute(i, depth + 1, sink)).collect()),
                span,
            },
            NodeKind::Map(entries) => Node {
                kind: NodeKind::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k, self.substitute(v, depth + 1, sink)))
                        .collect(),
                ),
                span,
            },
        }
    }

    /// The scalar `s`, exactly a reference to the variable `name`: that
    /// variable's value, whole.
    fn whole(&mut self, s: Scalar, name: &str, span: Span, depth: usize, sink: &mut Sink) -> Node {
        let (cost, nesting) = match self.lookup(name) {
            Some(v) => (v.cost(), v.depth()),
            None => {
                let at = RefColumns::new(&s, span).at(0);
                self.undefined.push((name.to_string(), at));
                return Node::scalar(s.text, s.plain, span);
            }
        };
        if depth + nesting > MAX_DEPTH {
            let kind = ErrorKind::Limit(format!(
                "values are nested more than {MAX_DEPTH} levels deep (variables included)"
            ));
            self.limit(kind, span, sink);
            return Node::scalar(String::new(), false, span);
        }
        if !self.spend(cost, span, sink) {
            return Node::scalar(String::new(), false, span);
        }
        match self.lookup(name).cloned() {
            Some(Node {
                kind: NodeKind::Scalar(v),
                ..
            }) => Node::scalar(v.text, s.plain, span),
            Some(v) => v,
            None => unreachable!("looked up above"),
        }
    }

    /// The scalar `s` with each of its references `refs` replaced by its
    /// variable's text.
    fn interpolate(&mut self, s: &Scalar, refs: &[Ref<'_>], span: Span, sink: &mut Sink) -> Node {
        let mut out = String::with_capacity(s.text.len());
        let mut last = 0;
        let mut cols = RefColumns::new(s, span);
        for r in refs {
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
                }) => {
                    // Checked before copying: `${a}${a}...` on a long
                    // `a` must not build a huge string first.
                    if out.len() + v.text.len() > MAX_SCALAR {
                        let kind = ErrorKind::Limit(format!(
                            "a value is longer than {MAX_SCALAR} bytes once variables are substituted"
                        ));
                        self.limit(kind, span, sink);
                        return Node::scalar(String::new(), false, span);
                    }
                    out.push_str(&v.text);
                }
                Some(v) => {
                    let what = kind_name(v);
                    sink.push(
                        Diagnostic::new(ErrorKind::VariableNotScalar(name.to_string(), what), cols.at(r.start)).help(
                            format!("use `${{{name}}}` alone as the value, or name one of its scalar members"),
                        ),
                    );
                }
                None => {
                    self.undefined.push((name.to_string(), cols.at(r.start)));
                    out.push_str(&s.text[r.start..r.end]);
                }
            }
        }
        out.push_str(&s.text[last..]);
        self.substituted(out, s.plain, span, sink)
    }

    /// A value once its variables are substituted, checked as any value
    /// written in a file is: its length, no `#jinja2:`, the load's budget.
    fn substituted(&mut self, out: String, plain: bool, span: Span, sink: &mut Sink) -> Node {
        if out.len() > MAX_SCALAR {
            let kind = ErrorKind::Limit(format!(
                "a value is longer than {MAX_SCALAR} bytes once variables are substituted"
            ));
            self.limit(kind, span, sink);
            return Node::scalar(String::new(), false, span);
        }
        if tree::jinja_override(&out) {
            sink.push(
                Diagnostic::new(tree::jinja_override_error(), span)
                    .help("this text only appears once variables are substituted: change the variables"),
            );
            return Node::scalar(String::new(), false, span);
        }
        let cost = Cost {
            nodes: 0,
            bytes: out.len(),
        };
        if !self.spend(cost, span, sink) {
            return Node::scalar(String::new(), false, span);
        }
        Node::scalar(out, plain, span)
    }

    /// Renders a value with Jinja2, as HADeploy did ([`crate::jinja`]).
    fn render(&mut self, s: tree::Scalar, span: Span, sink: &mut Sink) -> Node {
        // `$${` is this tool's literal `${`: Jinja writes it from a string.
        let escaped = s.text.contains("$${");
        let text = if escaped {
            s.text.replace("$${", "${ '${' }")
        } else {
            s.text.clone()
        };
        let ctx = self.jinja_context();
        let vars = &self.vars;
        let defined = |name: &str| path_defined(vars, name);
        match self.jinja.render(&text, &ctx, &defined) {
            Ok(out) => self.substituted(out, s.plain, span, sink),
            Err(crate::jinja::Failure::Undefined(names)) => {
                let mut cols = RefColumns::new(&s, span);
                for name in names {
                    let root = name.split('.').next().unwrap_or(&name);
                    let at = s.text.find(root).map_or(span, |i| cols.at_any(i));
                    self.undefined.push((name, at));
                }
                Node::scalar(s.text, s.plain, span)
            }
            Err(crate::jinja::Failure::Other { message, offset }) => {
                let at = match offset {
                    Some(i) if !escaped => RefColumns::new(&s, span).at_any(i),
                    _ => span,
                };
                sink.push(Diagnostic::new(ErrorKind::Template(message), at).help(
                    "values are rendered with Jinja2, as HADeploy did: `${ expression }`, `%{ if ... }`...`%{ endif }`; write `$${` for a literal `${`",
                ));
                Node::scalar(String::new(), false, span)
            }
        }
    }

    /// The variables defined so far, as Jinja values.
    fn jinja_context(&mut self) -> minijinja::Value {
        let generation = self.next_generation;
        if let Some((g, ctx)) = &self.context
            && *g == generation
        {
            return ctx.clone();
        }
        let map: std::collections::BTreeMap<&str, serde_json::Value> =
            self.vars.iter().map(|(k, v)| (k.as_str(), tree::to_json(v))).collect();
        let ctx = minijinja::Value::from(minijinja::value::Serde(&map));
        self.context = Some((generation, ctx.clone()));
        ctx
    }

    /// `name`, or `a.b.c` walking into map variables (the last of repeated
    /// keys wins).
    fn lookup(&mut self, name: &str) -> Option<&Node> {
        let Loader {
            vars,
            generations,
            members,
            ..
        } = self;
        let mut parts = name.split('.');
        let root = parts.next()?;
        let i = vars.get_index_of(root)?;
        let mut node = &vars[i];
        let mut path = root.to_string();
        for part in parts {
            let entries = node.as_map()?;
            let index = members.entry((generations[i], path.clone())).or_insert_with(|| {
                entries
                    .iter()
                    .enumerate()
                    .filter_map(|(pos, (k, _))| k.as_scalar().map(|s| (s.text.clone(), pos)))
                    .collect()
            });
            node = &entries[*index.get(part)?].1;
            path.push('.');
            path.push_str(part);
        }
        Some(node)
    }

    fn report_undefined(&mut self, sink: &mut Sink) {
        for (name, span) in std::mem::take(&mut self.undefined) {
            let root = name.split('.').next().unwrap_or(&name);
            let later = self.first_definitions.get(root).copied();
            let help = match later {
                Some(def) if root == name || self.lookup(&name).is_some() => {
                    let at = self.sources.get(def.file).path.display();
                    Some(format!(
                        "`{root}` is defined later, at {at}:{}:{}; a variable must be defined before it is used",
                        def.line, def.col
                    ))
                }
                Some(_) => Some(format!("`{root}` has no member `{}`", &name[root.len() + 1..])),
                None => sink.did_you_mean(&name, self.vars.keys().map(String::as_str)).or_else(|| {
                    Some(format!(
                        "define it in a `vars:` block loaded before this line, or pass `--src {name}=VALUE` first; write `$${{` for a literal `${{`"
                    ))
                }),
            };
            sink.push(Diagnostic::new(ErrorKind::UndefinedVariable(name), span).maybe_help(help));
        }
    }
}

/// Reads a source file of at most [`MAX_FILE`] bytes: a regular file of
/// UTF-8 text, or why not.
pub(crate) fn read_source(path: &Path) -> Result<String, String> {
    crate::input::read_text(path, MAX_FILE)
}

/// Whether a top-level key is one a description could hold: a section of
/// the format, of another HADeploy plugin, or a near miss of one (a typo is
/// reported as such, with the line).
fn section_like(key: &Node) -> bool {
    let Some(k) = key.as_scalar() else { return false };
    let names = || {
        crate::format::SECTIONS
            .iter()
            .map(|s| s.name)
            .chain(crate::format::OTHER_PLUGIN_SECTIONS.iter().map(|(n, _)| *n))
    };
    names().any(|n| n == k.text) || crate::error::did_you_mean(&k.text, names()).is_some()
}

/// A file is read as a description when it is empty or one of its
/// documents has a [`section_like`] key (in a list of maps too: a
/// description written as a list is still reported as one, with its line).
fn looks_like_a_description(docs: &[Node]) -> bool {
    let has_section = |n: &Node| n.as_map().is_some_and(|m| m.iter().any(|(k, _)| section_like(k)));
    docs.iter().all(Node::is_null)
        || docs.iter().any(|d| match &d.kind {
            NodeKind::Map(_) => has_section(d),
            NodeKind::Seq(items) => items.iter().any(has_section),
            NodeKind::Scalar(_) => false,
        })
}

/// Whether a line starts a top-level key that is a section.
fn names_a_section(line: &str) -> bool {
    line.split_once(':').is_some_and(|(k, _)| {
        let k = k.trim_matches(|c| c == '"' || c == '\'');
        crate::format::section(k).is_some() || crate::format::OTHER_PLUGIN_SECTIONS.iter().any(|(n, _)| *n == k)
    })
}

pub(crate) fn kind_name(node: &Node) -> &'static str {
    match node.kind {
        NodeKind::Scalar(_) => "scalar",
        NodeKind::Seq(_) => "list",
        NodeKind::Map(_) => "map",
    }
}

/// Where a `!vault` scalar sits in a value, if one does.
fn vault_span(node: &Node) -> Option<Span> {
    match &node.kind {
        NodeKind::Scalar(s) => s.vault.then_some(node.span),
        NodeKind::Seq(items) => items.iter().find_map(vault_span),
        NodeKind::Map(entries) => entries.iter().find_map(|(_, v)| vault_span(v)),
    }
}

/// Whether `name` or the `a.b.c` path is defined among `vars`.
fn path_defined(vars: &IndexMap<String, Node>, name: &str) -> bool {
    let mut parts = name.split('.');
    let Some(mut node) = parts.next().and_then(|root| vars.get(root)) else {
        return false;
    };
    for part in parts {
        let Some(next) = node.as_map().and_then(|m| {
            m.iter()
                .rev()
                .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == part))
        }) else {
            return false;
        };
        node = &next.1;
    }
    true
}

/// Whether a value needs Jinja2 beyond plain `${name}` / `<<name>>`
/// references: a block (`%{`, `%<`), a comment (`#{`, `#<`), or a `${` or
/// `<<` that is not a plain reference (`${ port + 1 }`, `${x | default(1)}`).
/// `<< >>` is only rendered where the value holds `>>`, as HADeploy did.
fn jinja_needed(text: &str) -> bool {
    let b = text.as_bytes();
    if !b.contains(&b'{') && !b.contains(&b'>') {
        return false;
    }
    if text.contains("%{") || text.contains("#{") {
        return true;
    }
    let angle = text.contains(">>");
    if angle && (text.contains("%<") || text.contains("#<")) {
        return true;
    }
    let plain_ref = |at: usize, close: &[u8]| {
        let body = at + 2;
        let len = b[body..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.'))
            .count();
        b[body + len..].starts_with(close) && is_ref_name(&text[body..body + len])
    };
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'$' && b[i + 1] == b'{' {
            let escaped = i > 0 && b[i - 1] == b'$';
            if !escaped && !plain_ref(i, b"}") {
                return true;
            }
        } else if angle && b[i] == b'<' && b[i + 1] == b'<' {
            if !plain_ref(i, b">>") {
                return true;
            }
            i += 1;
        }
        i += 1;
    }
    false
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
        && name.split('.').all(crate::format::is_word)
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

/// Every reference of `text`, in order, in one pass: a name is read up to
/// the first character that cannot be part of one, so that text full of
/// unclosed markers (`<<<<...`, `${${...`) costs no more than its length.
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
        let close: &[u8] = if b[i..].starts_with(b"${") {
            b"}"
        } else if b[i..].starts_with(b"<<") {
            b">>"
        } else {
            i += 1;
            continue;
        };
        let body = i + 2;
        let len = b[body..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.'))
            .count();
        let name = &text[body..body + len];
        if b[body + len..].starts_with(close) && is_ref_name(name) {
            let end = body + len + close.len();
            refs.push(Ref {
                start: i,
                end,
                name: Some(name),
            });
            i = end;
            continue;
        }
        i += 1;
    }
    refs
}

/// Positions of the references of one scalar, asked in increasing order:
/// columns are counted from where the last one was, not from the start.
struct RefColumns<'a> {
    text: &'a str,
    span: Span,
    multiline: bool,
    quoted: bool,
    counted_to: usize,
    chars: u32,
}

impl<'a> RefColumns<'a> {
    fn new(s: &'a tree::Scalar, span: Span) -> Self {
        RefColumns::new_at(&s.text, span, s.text.contains('\n'), !s.plain)
    }

    fn new_at(text: &'a str, span: Span, multiline: bool, quoted: bool) -> Self {
        RefColumns {
            text,
            span,
            multiline,
            quoted,
            counted_to: 0,
            // The opening quote of a quoted scalar.
            chars: u32::from(quoted),
        }
    }

    /// Where byte `offset` is, asked in any order, when the scalar is on one line.
    fn at_any(&mut self, offset: usize) -> Span {
        if offset < self.counted_to {
            *self = RefColumns::new_at(self.text, self.span, self.multiline, self.quoted);
        }
        self.at(offset)
    }

    /// Where the reference at byte `offset` starts, when the scalar is on one line.
    fn at(&mut self, offset: usize) -> Span {
        if self.multiline || offset < self.counted_to {
            return self.span;
        }
        let n = self.text[self.counted_to..offset].chars().count();
        self.chars = self.chars.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        self.counted_to = offset;
        Span {
            col: self.span.col.saturating_add(self.chars),
            ..self.span
        }
    }
}

/// Merges entries that share a key, in first-seen order: maps merge key by
/// key, lists append, anything else is replaced by the later value. Linear
/// in the size of the tree, however many keys repeat.
pub(crate) fn merge_entries(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    // The usual map repeats no key: each value is merged on its own, in place.
    if !repeats_a_key(&entries) {
        return entries.into_iter().map(|(k, v)| (k, merge_repeated_keys(v))).collect();
    }
    let mut merged: Vec<(Node, Vec<Node>)> = Vec::with_capacity(entries.len());
    let mut index: HashMap<String, usize> = HashMap::with_capacity(entries.len());
    for (k, v) in entries {
        let text = k.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
        match index.entry(text) {
            Entry::Occupied(e) => merged[*e.get()].1.push(v),
            Entry::Vacant(e) => {
                e.insert(merged.len());
                merged.push((k, vec![v]));
            }
        }
    }
    merged.into_iter().map(|(k, vs)| (k, merge_values(vs))).collect()
}

/// The values given to one key, in order, merged into one. A value of
/// another kind replaces everything before it, so only the last run of
/// maps (or of lists) merges; a last scalar stands alone.
fn merge_values(mut values: Vec<Node>) -> Node {
    let same_kind = |a: &Node, b: &Node| {
        matches!(
            (&a.kind, &b.kind),
            (NodeKind::Map(_), NodeKind::Map(_)) | (NodeKind::Seq(_), NodeKind::Seq(_))
        )
    };
    let Some(last) = values.last() else {
        unreachable!("a key has at least one value")
    };
    let start = match last.kind {
        NodeKind::Scalar(_) => values.len() - 1,
        _ => values.iter().rposition(|v| !same_kind(v, last)).map_or(0, |i| i + 1),
    };
    let mut run = values.drain(start..);
    let Some(first) = run.next() else {
        unreachable!("the last value is in the run")
    };
    let span = first.span;
    match first.kind {
        NodeKind::Map(mut entries) => {
            for v in run {
                if let NodeKind::Map(more) = v.kind {
                    entries.extend(more);
                }
            }
            Node {
                kind: NodeKind::Map(merge_entries(entries)),
                span,
            }
        }
        NodeKind::Seq(mut items) => {
            for v in run {
                if let NodeKind::Seq(more) = v.kind {
                    items.extend(more);
                }
            }
            Node {
                kind: NodeKind::Seq(items.into_iter().map(merge_repeated_keys).collect()),
                span,
            }
        }
        kind => Node { kind, span },
    }
}

/// The text a key is merged by: non-scalar keys all count as the empty text.
fn key_text(k: &Node) -> &str {
    k.as_scalar().map_or("", |s| s.text.as_str())
}

/// Whether two entries have the same [`key_text`].
fn repeats_a_key(entries: &[(Node, Node)]) -> bool {
    if entries.len() <= 16 {
        return entries
            .iter()
            .enumerate()
            .any(|(i, (k, _))| entries[..i].iter().any(|(o, _)| key_text(o) == key_text(k)));
    }
    let mut seen = HashSet::with_capacity(entries.len());
    !entries.iter().all(|(k, _)| seen.insert(key_text(k)))
}

/// A map written with the same key twice holds both, merged: what
/// `merge_values` does with this one value, without building a list of one.
pub(crate) fn merge_repeated_keys(node: Node) -> Node {
    let span = node.span;
    match node.kind {
        NodeKind::Map(entries) => Node {
            kind: NodeKind::Map(merge_entries(entries)),
            span,
        },
        NodeKind::Seq(items) => Node {
            kind: NodeKind::Seq(items.into_iter().map(merge_repeated_keys).collect()),
            span,
        },
        kind => Node { kind, span },
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
