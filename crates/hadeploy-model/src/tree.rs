//! The loaded tree: YAML documents as nodes that remember where they came
//! from. This is the only module that knows the YAML parser.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

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
}

impl Node {
    /// A scalar node.
    pub fn scalar(text: impl Into<String>, plain: bool, span: Span) -> Node {
        Node {
            kind: NodeKind::Scalar(Scalar {
                text: text.into(),
                plain,
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

    /// Number of nodes in this tree, this one included.
    pub fn size(&self) -> usize {
        match &self.kind {
            NodeKind::Scalar(_) => 1,
            NodeKind::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            NodeKind::Map(entries) => 1 + entries.iter().map(|(k, v)| k.size() + v.size()).sum::<usize>(),
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
pub fn parse(text: &str, file: FileId, budget: &mut usize) -> Result<Vec<Node>, (ErrorKind, Span)> {
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
            (
                ErrorKind::Syntax(e.info().to_string()),
                builder.span_at(m.line(), m.col()),
            )
        })?;
        let at = builder.span_at(span.start.line(), span.start.col());
        builder.event(event, at)?;
    }
    Ok(builder.docs)
}

enum Frame {
    Seq {
        items: Vec<Node>,
        anchor: usize,
        span: Span,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        anchor: usize,
        span: Span,
    },
}

struct Builder<'b> {
    file: FileId,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    docs: Vec<Node>,
    budget: &'b mut usize,
}

impl Builder<'_> {
    fn span_at(&self, line: usize, col: usize) -> Span {
        Span {
            file: self.file,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col + 1).unwrap_or(u32::MAX),
        }
    }

    fn spend(&mut self, n: usize, at: Span) -> Result<(), (ErrorKind, Span)> {
        if *self.budget < n {
            return Err((
                ErrorKind::Limit(format!(
                    "the description expands to more than {MAX_NODES} values (aliases included)"
                )),
                at,
            ));
        }
        *self.budget -= n;
        Ok(())
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
                let forced_str = tag.is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
                let plain = style == ScalarStyle::Plain && !forced_str;
                self.spend(1, at)?;
                let node = Node::scalar(text.into_owned(), plain, at);
                self.finish(node, anchor, 1)
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id).cloned() else {
                    return Err((ErrorKind::Syntax("alias to an unknown anchor".into()), at));
                };
                self.spend(size, at)?;
                self.finish(node, 0, size)
            }
            Event::SequenceStart(anchor, _) => {
                self.open(at)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    span: at,
                });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.open(at)?;
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    anchor,
                    span: at,
                });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq { items, anchor, span }) => {
                    let node = Node {
                        kind: NodeKind::Seq(items),
                        span,
                    };
                    let size = node.size();
                    self.finish(node, anchor, size)
                }
                _ => Err((ErrorKind::Syntax("unbalanced sequence".into()), at)),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map {
                    entries, anchor, span, ..
                }) => {
                    let node = Node {
                        kind: NodeKind::Map(apply_merge_keys(entries)),
                        span,
                    };
                    let size = node.size();
                    self.finish(node, anchor, size)
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
        self.spend(1, at)
    }

    /// Hands a completed node to its parent, or ends the document.
    fn finish(&mut self, node: Node, anchor: usize, size: usize) -> Result<(), (ErrorKind, Span)> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    if !matches!(node.kind, NodeKind::Scalar(_)) {
                        return Err((
                            ErrorKind::Syntax("a map key must be a plain value, not a list or map".into()),
                            node.span,
                        ));
                    }
                    *key = Some(node);
                }
                Some(k) => entries.push((k, node)),
            },
        }
        Ok(())
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
