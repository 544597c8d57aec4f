//! The loaded tree: YAML documents as nodes that remember where they came
//! from. This is the only module that knows the YAML parser.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};

use crate::error::ErrorKind;
use crate::span::{FileId, Span};

/// Deepest nesting accepted; descriptions are a few levels deep.
pub const MAX_DEPTH: usize = 64;
/// Most nodes one load may produce, aliases expanded (billion-laughs guard).
pub const MAX_NODES: usize = 2_000_000;
/// Longest scalar accepted, in bytes.
pub const MAX_SCALAR: usize = 1 << 20;
/// Largest source file accepted, in bytes.
pub const MAX_FILE: u64 = 16 << 20;
/// Most bytes of values one load may hold, aliases and variables expanded
/// (a short alias of a long value would otherwise copy it without bound).
pub const MAX_VALUE_BYTES: usize = 64 << 20;

/// What a value costs: its nodes and the bytes of its scalars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Nodes, this one included.
    pub nodes: usize,
    /// Bytes of scalar text.
    pub bytes: usize,
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, o: Cost) {
        self.nodes = self.nodes.saturating_add(o.nodes);
        self.bytes = self.bytes.saturating_add(o.bytes);
    }
}

/// What is left of one load's allowance of values ([`MAX_NODES`] nodes,
/// [`MAX_VALUE_BYTES`] bytes): every value parsed, copied by an alias or
/// produced by a variable is paid for, so that no input expands without bound.
#[derive(Debug, Clone)]
pub struct Budget {
    nodes: usize,
    bytes: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            nodes: MAX_NODES,
            bytes: MAX_VALUE_BYTES,
        }
    }
}

impl Budget {
    /// Pays for `cost`, or says which limit it would cross (`what` names
    /// the expansions counted, e.g. "aliases included").
    pub fn spend(&mut self, cost: Cost, what: &str) -> Result<(), ErrorKind> {
        if self.nodes < cost.nodes {
            return Err(ErrorKind::Limit(format!(
                "the description expands to more than {MAX_NODES} values ({what})"
            )));
        }
        if self.bytes < cost.bytes {
            return Err(ErrorKind::Limit(format!(
                "the description's values add up to more than {} MiB ({what})",
                MAX_VALUE_BYTES >> 20
            )));
        }
        self.nodes -= cost.nodes;
        self.bytes -= cost.bytes;
        Ok(())
    }
}

/// A YAML value with the position it was written at.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub kind: NodeKind,
    /// Where it starts.
    pub span: Span,
}

/// The three shapes a YAML value takes.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar, untyped until a consumer asks for a type.
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A map; keys are scalars, kept in order, repeats allowed until merged.
    Map(Vec<(Node, Node)>),
}

/// A scalar's text, and whether it was quoted: only plain scalars are typed
/// as booleans, numbers or null.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The text after YAML unescaping.
    pub text: String,
    /// Plain (unquoted, not a block scalar).
    pub plain: bool,
    /// Tagged `!vault`: an Ansible Vault value, kept as written.
    pub vault: bool,
}

impl Node {
    /// A scalar node.
    pub fn scalar(text: impl Into<String>, plain: bool, span: Span) -> Node {
        Node {
            kind: NodeKind::Scalar(Scalar {
                text: text.into(),
                plain,
                vault: false,
            }),
            span,
        }
    }

    /// The scalar, if this is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a map.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// True for a plain `~`, `null` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(s) if s.is_null())
    }

    /// How a user would name this value's type in an error.
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Scalar(s) if s.is_null() => "nothing (null)".into(),
            NodeKind::Scalar(s) => match s.typed() {
                Typed::Bool(b) => format!("the boolean `{b}`"),
                Typed::Int(i) => format!("the integer `{i}`"),
                Typed::Float => format!("the number `{}`", s.text),
                _ => format!("the string {:?}", truncate(&s.text)),
            },
            NodeKind::Seq(_) => "a list".into(),
            NodeKind::Map(_) => "a map".into(),
        }
    }

    /// Nodes and scalar bytes in this tree, this node included.
    pub fn cost(&self) -> Cost {
        match &self.kind {
            NodeKind::Scalar(s) => Cost {
                nodes: 1,
                bytes: s.text.len(),
            },
            NodeKind::Seq(items) => {
                let mut c = Cost { nodes: 1, bytes: 0 };
                for i in items {
                    c += i.cost();
                }
                c
            }
            NodeKind::Map(entries) => {
                let mut c = Cost { nodes: 1, bytes: 0 };
                for (k, v) in entries {
                    c += k.cost();
                    c += v.cost();
                }
                c
            }
        }
    }

    /// Levels of lists and maps: 0 for a scalar, 1 for a flat list.
    pub fn depth(&self) -> usize {
        match &self.kind {
            NodeKind::Scalar(_) => 0,
            NodeKind::Seq(items) => 1 + items.iter().map(Node::depth).max().unwrap_or(0),
            NodeKind::Map(entries) => 1 + entries.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
        }
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 40 {
        let mut t: String = s.chars().take(37).collect();
        t.push_str("...");
        t
    } else {
        s.to_string()
    }
}

/// A plain scalar's type under HADeploy's (YAML 1.1 style) rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Typed<'a> {
    /// `~`, `null` or nothing.
    Null,
    /// `yes/no/true/false/on/off/y/n`, any case.
    Bool(bool),
    /// A decimal integer.
    Int(i64),
    /// A decimal number with a fraction or exponent.
    Float,
    /// Anything else, and every quoted scalar.
    Str(&'a str),
}

impl Scalar {
    /// Types the scalar: quoted scalars are always strings.
    pub fn typed(&self) -> Typed<'_> {
        if !self.plain {
            return Typed::Str(&self.text);
        }
        let t = self.text.as_str();
        if self.is_null() {
            return Typed::Null;
        }
        match t.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "y" => return Typed::Bool(true),
            "no" | "false" | "off" | "n" => return Typed::Bool(false),
            _ => {}
        }
        let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
        if !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(i) = t.parse::<i64>()
        {
            return Typed::Int(i);
        }
        if digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
            && digits.contains(|c: char| c.is_ascii_digit())
            && t.parse::<f64>().is_ok_and(f64::is_finite)
        {
            return Typed::Float;
        }
        Typed::Str(t)
    }

    /// True for a plain `~`, `null` or empty scalar.
    pub fn is_null(&self) -> bool {
        self.plain && matches!(self.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }
}

/// Parses a source into its documents. Anchors are expanded, `<<` merge keys
/// applied, and repeated keys kept (they are merged later, as HADeploy does).
pub fn parse(text: &str, file: FileId, budget: &mut Budget) -> Result<Vec<Node>, (ErrorKind, Span)> {
    let mut builder = Builder {
        file,
        stack: Vec::new(),
        anchors: HashMap::new(),
        docs: Vec::new(),
        budget,
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            // The parser marks where the scalar it was reading starts; a
            // tab is pointed at where it is.
            let (line, col) = if e.info().contains("tab") {
                first_tab_from(text, m.line()).unwrap_or((m.line(), m.col()))
            } else {
                (m.line(), m.col())
            };
            (ErrorKind::Syntax(e.info().to_string()), builder.span_at(line, col))
        })?;
        let at = builder.span_at(span.start.line(), span.start.col());
        builder.event(event, at)?;
    }
    Ok(builder.docs)
}

/// Line (from 1) and column (from 0, in characters) of the first tab on
/// line `from` or after it.
fn first_tab_from(text: &str, from: usize) -> Option<(usize, usize)> {
    crate::span::yaml_lines(text)
        .enumerate()
        .skip(from.saturating_sub(1))
        .find_map(|(i, l)| l.find('\t').map(|at| (i + 1, l[..at].chars().count())))
}

/// A list or map being read, with the cost of what it holds so far.
enum Frame {
    Seq {
        items: Vec<Node>,
        anchor: usize,
        span: Span,
        cost: Cost,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        anchor: usize,
        span: Span,
        cost: Cost,
    },
}

struct Builder<'b> {
    file: FileId,
    stack: Vec<Frame>,
    /// Each anchored value, with its cost and its levels of lists and maps.
    anchors: HashMap<usize, (Node, Cost, usize)>,
    docs: Vec<Node>,
    budget: &'b mut Budget,
}

impl Builder<'_> {
    fn span_at(&self, line: usize, col: usize) -> Span {
        Span {
            file: self.file,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col + 1).unwrap_or(u32::MAX),
        }
    }

    fn spend(&mut self, cost: Cost, at: Span) -> Result<(), (ErrorKind, Span)> {
        self.budget.spend(cost, "aliases included").map_err(|k| (k, at))
    }

    fn event(&mut self, event: Event<'_>, at: Span) -> Result<(), (ErrorKind, Span)> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                if text.len() > MAX_SCALAR {
                    return Err((
                        ErrorKind::Limit(format!("a value is longer than {MAX_SCALAR} bytes")),
                        at,
                    ));
                }
                if jinja_override(&text) {
                    return Err((jinja_override_error(), at));
                }
                let tag = scalar_tag(tag.as_deref(), at)?;
                let vault = tag == ScalarTag::Vault;
                let plain = match tag {
                    ScalarTag::None => style == ScalarStyle::Plain,
                    ScalarTag::Str | ScalarTag::Vault => false,
                    // `!!int "5"` is the integer 5.
                    ScalarTag::Typed => true,
                };
                let cost = Cost {
                    nodes: 1,
                    bytes: text.len(),
                };
                self.spend(cost, at)?;
                let mut node = Node::scalar(text.into_owned(), plain, at);
                if let NodeKind::Scalar(s) = &mut node.kind {
                    s.vault = vault;
                }
                self.finish(node, anchor, cost)
            }
            Event::Alias(id) => {
                let Some((node, cost, depth)) = self.anchors.get(&id).cloned() else {
                    return Err((ErrorKind::Syntax("alias to an unknown anchor".into()), at));
                };
                // An alias brings its anchor's levels where it stands.
                if self.stack.len() + depth > MAX_DEPTH {
                    return Err((
                        ErrorKind::Limit(format!("values are nested more than {MAX_DEPTH} levels deep")),
                        at,
                    ));
                }
                self.spend(cost, at)?;
                self.finish(node, 0, cost)
            }
            Event::SequenceStart(anchor, tag) => {
                collection_tag(tag.as_deref(), "seq", at)?;
                self.open(at)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    span: at,
                    cost: Cost { nodes: 1, bytes: 0 },
                });
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                collection_tag(tag.as_deref(), "map", at)?;
                self.open(at)?;
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    anchor,
                    span: at,
                    cost: Cost { nodes: 1, bytes: 0 },
                });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    items,
                    anchor,
                    span,
                    cost,
                }) => {
                    let node = Node {
                        kind: NodeKind::Seq(items),
                        span,
                    };
                    self.finish(node, anchor, cost)
                }
                _ => Err((ErrorKind::Syntax("unbalanced sequence".into()), at)),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map {
                    entries,
                    anchor,
                    span,
                    cost,
                    ..
                }) => {
                    // Merge keys only drop or reorder entries: the cost stands.
                    let node = Node {
                        kind: NodeKind::Map(apply_merge_keys(entries)),
                        span,
                    };
                    self.finish(node, anchor, cost)
                }
                _ => Err((ErrorKind::Syntax("unbalanced map".into()), at)),
            },
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => {
                Ok(())
            }
        }
    }

    fn open(&mut self, at: Span) -> Result<(), (ErrorKind, Span)> {
        if self.stack.len() >= MAX_DEPTH {
            return Err((
                ErrorKind::Limit(format!("values are nested more than {MAX_DEPTH} levels deep")),
                at,
            ));
        }
        self.spend(Cost { nodes: 1, bytes: 0 }, at)
    }

    /// Hands a completed node to its parent, or ends the document.
    fn finish(&mut self, node: Node, anchor: usize, cost: Cost) -> Result<(), (ErrorKind, Span)> {
        if anchor != 0 {
            // The anchor keeps a copy: nested anchors would otherwise copy
            // the same values once per level for free.
            self.spend(cost, node.span)?;
            self.anchors.insert(anchor, (node.clone(), cost, node.depth()));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, cost: total, .. }) => {
                *total += cost;
                items.push(node);
            }
            Some(Frame::Map {
                entries,
                key,
                cost: total,
                ..
            }) => match key.take() {
                None => {
                    if !matches!(node.kind, NodeKind::Scalar(_)) {
                        return Err((
                            ErrorKind::Syntax("a map key must be a plain value, not a list or map".into()),
                            node.span,
                        ));
                    }
                    *total += cost;
                    *key = Some(node);
                }
                Some(k) => {
                    *total += cost;
                    entries.push((k, node));
                }
            },
        }
        Ok(())
    }
}

/// What a scalar's tag means here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarTag {
    /// No tag: typed by its style.
    None,
    /// `!!str`: a string, however it is written.
    Str,
    /// `!!int`, `!!bool`, `!!float`, `!!null`: typed as if plain.
    Typed,
    /// `!vault`: an Ansible Vault value.
    Vault,
}

const CORE: &str = "tag:yaml.org,2002:";

/// The tags a scalar may carry: `!vault` and YAML's core scalar tags. Any
/// other (`!!binary`, `!!timestamp`, `!custom`) would be dropped silently
/// and the value read as something it is not: refused.
fn scalar_tag(tag: Option<&Tag>, at: Span) -> Result<ScalarTag, (ErrorKind, Span)> {
    let Some(t) = tag else { return Ok(ScalarTag::None) };
    match (t.handle.as_str(), t.suffix.as_str()) {
        (CORE, "str") => Ok(ScalarTag::Str),
        (CORE, "int" | "bool" | "float" | "null") => Ok(ScalarTag::Typed),
        ("!", "vault") => Ok(ScalarTag::Vault),
        _ => Err(unsupported_tag(t, at)),
    }
}

/// A list may be tagged `!!seq`, a map `!!map`; nothing else.
fn collection_tag(tag: Option<&Tag>, core: &str, at: Span) -> Result<(), (ErrorKind, Span)> {
    match tag {
        None => Ok(()),
        Some(t) if t.handle == CORE && t.suffix == core => Ok(()),
        Some(t) => Err(unsupported_tag(t, at)),
    }
}

fn unsupported_tag(t: &Tag, at: Span) -> (ErrorKind, Span) {
    let shown = match t.handle.as_str() {
        CORE => format!("!!{}", t.suffix),
        h => format!("{h}{}", t.suffix),
    };
    (
        ErrorKind::Syntax(format!(
            "the tag `{}` is not read here: only `!vault` and YAML's core tags (`!!str`, `!!int`, `!!bool`, `!!float`, `!!null`, `!!seq`, `!!map`)",
            shown.escape_debug()
        )),
        at,
    )
}

/// Whether a value starts with `#jinja2:`, which makes Ansible read the
/// rest of a template with other delimiters.
pub(crate) fn jinja_override(text: &str) -> bool {
    text.trim_start().starts_with("#jinja2:")
}

/// The error for a value [`jinja_override`] finds.
pub(crate) fn jinja_override_error() -> ErrorKind {
    ErrorKind::InvalidValue {
        key: "value".into(),
        reason: "a value starting with `#jinja2:` would change how Ansible reads every template it reaches".into(),
    }
}

/// Applies YAML merge keys (`<<: *base` or `<<: [*a, *b]`): merged entries
/// fill in keys the map does not set itself; the first source wins.
fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let is_merge = |k: &Node| matches!(&k.kind, NodeKind::Scalar(s) if s.plain && s.text == "<<");
    if !entries.iter().any(|(k, _)| is_merge(k)) {
        return entries;
    }
    let mut own = Vec::new();
    let mut sources = Vec::new();
    for (k, v) in entries {
        if is_merge(&k) {
            match v.kind {
                NodeKind::Map(m) => sources.push(m),
                NodeKind::Seq(items) => sources.extend(items.into_iter().filter_map(|i| match i.kind {
                    NodeKind::Map(m) => Some(m),
                    _ => None,
                })),
                NodeKind::Scalar(_) => own.push((k, v)),
            }
        } else {
            own.push((k, v));
        }
    }
    let key_text = |k: &Node| k.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
    let mut seen: std::collections::HashSet<String> = own.iter().map(|(k, _)| key_text(k)).collect();
    for source in sources {
        for (k, v) in source {
            if seen.insert(key_text(&k)) {
                own.push((k, v));
            }
        }
    }
    own
}

/// A variable's value as Ansible will see it, plain scalars typed.
pub(crate) fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match &node.kind {
        NodeKind::Scalar(s) => match s.typed() {
            Typed::Null => Value::Null,
            Typed::Bool(b) => Value::Bool(b),
            Typed::Int(i) => Value::from(i),
            Typed::Float => s
                .text
                .parse::<f64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(s.text.clone())),
            Typed::Str(t) => Value::String(t.to_string()),
        },
        NodeKind::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        NodeKind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.as_scalar().map(|s| s.text.clone()).unwrap_or_default(), to_json(v)))
                .collect(),
        ),
    }
}
