//! What can be wrong with a description, and where.

use std::fmt::{self, Write as _};

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use crate::span::{SourceMap, Span};

/// Most errors reported for one run; past it the user has enough to fix first.
pub const MAX_ERRORS: usize = 50;

/// What went wrong. The `Display` text is the first line a user sees; the
/// position and a `help:` line are added by [`Diagnostic`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// A source file could not be read.
    #[error("cannot read `{path}`: {reason}")]
    Read {
        /// The path as the user named it.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The YAML parser rejected the text.
    #[error("invalid YAML: {0}")]
    Syntax(String),
    /// A size or depth limit protecting the loader was exceeded.
    #[error("{0}")]
    Limit(String),
    /// A file includes itself, directly or through others.
    #[error("`{0}` includes itself")]
    IncludeCycle(String),
    /// A file that is not a description at all (`/etc/passwd`, a key): said
    /// once, without a word of its content.
    #[error("`{0}` is not a description: none of its top-level keys is a section of the format")]
    NotADescription(String),
    /// A document that is not a map of sections.
    #[error("a description file must be a map of sections (`hosts:`, `supervisors:`, ...), found {0}")]
    TopLevelNotMap(&'static str),
    /// `${name}` or `<<name>>` naming no variable defined so far.
    #[error("undefined variable `{0}`")]
    UndefinedVariable(String),
    /// A `${ ... }` expression Jinja2 cannot render.
    #[error("cannot render this value: {0}")]
    Template(String),
    /// A map or list variable used inside a longer string.
    #[error("variable `{0}` holds a {1} and can only be used as a whole value")]
    VariableNotScalar(String, &'static str),
    /// A key that is not part of the description format.
    #[error("unknown key `{key}` in {what}")]
    UnknownKey {
        /// The key as written.
        key: String,
        /// Where it was found, e.g. "a `supervisors` item".
        what: String,
    },
    /// A required key is absent.
    #[error("missing key `{key}` in {what}")]
    MissingKey {
        /// The required key.
        key: &'static str,
        /// Where it is required.
        what: String,
    },
    /// A value of the wrong YAML type.
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        /// The key whose value is wrong.
        key: String,
        /// What is expected, with an article: "a boolean".
        expected: &'static str,
        /// What was found, e.g. "the string \"maybe\"".
        found: String,
    },
    /// A value of the right type outside the allowed set or format.
    #[error("invalid `{key}`: {reason}")]
    InvalidValue {
        /// The key whose value is wrong.
        key: String,
        /// Why it is rejected.
        reason: String,
    },
    /// A scope, host or group that is not in the inventory.
    #[error("unknown host or host group `{0}`")]
    UnknownHost(String),
    /// A reference to a supervisor that is not described.
    #[error("unknown supervisor `{0}`")]
    UnknownSupervisor(String),
    /// A reference to a program its supervisor does not have.
    #[error("supervisor `{supervisor}` has no program `{program}`")]
    UnknownProgram {
        /// The supervisor looked in.
        supervisor: String,
        /// The program asked for.
        program: String,
    },
    /// Two items with the same identity.
    #[error("duplicate {what} `{name}`")]
    Duplicate {
        /// The kind of item.
        what: &'static str,
        /// The repeated name.
        name: String,
    },
    /// Something of HADeploy that belongs to one of its other plugins.
    #[error("{what} belongs to HADeploy's {plugin} plugin, a part of it hadeploy does not implement")]
    OtherPlugin {
        /// What was written, e.g. "section `hdfs_relay`".
        what: String,
        /// The plugin, as HADeploy names it (`lib/hadeploy/plugins/NAME`).
        plugin: &'static str,
    },
    /// A `notify` target that cannot be reached from the file's hosts.
    #[error("`notify` target `{target}` is not deployed on every host of this file ({missing})")]
    NotifyOutOfScope {
        /// The target as written.
        target: String,
        /// Hosts of the file that do not run the target.
        missing: String,
    },
    /// A rule between two values that does not hold.
    #[error("{0}")]
    Conflict(String),
    /// A local file the description names cannot be found.
    #[error("{what} `{name}` not found")]
    LocalFileNotFound {
        /// What kind of file, e.g. "template".
        what: &'static str,
        /// The name as written.
        name: String,
    },
    /// A name that would break a file name, an INI header, a unit name or YAML.
    #[error("{what} `{name}` cannot be used: {reason}")]
    UnsafeName {
        /// What the name names.
        what: &'static str,
        /// The name, escaped for display.
        name: String,
        /// Which character or form is the problem.
        reason: String,
    },
}

/// One error: what, where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where; `None` for errors about the command line itself.
    pub span: Option<Span>,
    /// One line saying how to fix it.
    pub help: Option<String>,
    /// The value at the position is a secret: the quoted line hides it.
    pub secret: bool,
}

impl Diagnostic {
    /// An error at a position.
    pub fn new(kind: ErrorKind, span: Span) -> Self {
        Diagnostic {
            kind,
            span: Some(span),
            help: None,
            secret: false,
        }
    }

    /// "duplicate WHAT `name`", at a position.
    pub fn duplicate(what: &'static str, name: impl Into<String>, span: Span) -> Self {
        Diagnostic::new(
            ErrorKind::Duplicate {
                what,
                name: name.into(),
            },
            span,
        )
    }

    /// "invalid `key`: reason", at a position.
    pub fn invalid_value(key: impl Into<String>, reason: impl Into<String>, span: Span) -> Self {
        Diagnostic::new(
            ErrorKind::InvalidValue {
                key: key.into(),
                reason: reason.into(),
            },
            span,
        )
    }

    /// An error with no position in any file.
    pub fn unplaced(kind: ErrorKind) -> Self {
        Diagnostic {
            kind,
            span: None,
            help: None,
            secret: false,
        }
    }

    /// "X belongs to HADeploy's P plugin", with what to do about it.
    pub fn other_plugin(what: impl Into<String>, plugin: &'static str, span: Span) -> Self {
        Diagnostic::new(
            ErrorKind::OtherPlugin {
                what: what.into(),
                plugin,
            },
            span,
        )
        .help("deploy that part with HADeploy, or remove it from what hadeploy reads")
    }

    /// Adds the `help:` line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Marks the value at the position as a secret, hidden when its line is quoted.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Adds the `help:` line if there is one.
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

/// Every error of one load, in the order found, with the sources to quote.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    /// The errors, at most [`MAX_ERRORS`] of them.
    pub errors: Vec<Diagnostic>,
    /// How many were found beyond [`MAX_ERRORS`].
    pub omitted: usize,
    /// The sources the spans point into.
    pub sources: SourceMap,
}

impl Diagnostics {
    /// Renders every error like a compiler, with colours when `styled`:
    ///
    /// ```text
    /// error: unknown key `supervisr` in a `supervisor_programs` item
    ///   --> app.yml:12:3
    ///    |
    /// 12 |   supervisr: tsupv
    ///    |   ^
    ///    = help: did you mean `supervisor`?
    /// ```
    ///
    /// then one line counting them.
    pub fn render(&self, styled: bool) -> String {
        let renderer = if styled { Renderer::styled() } else { Renderer::plain() };
        // Wide enough to show whole any line a person writes, flow-style
        // items included; a longer line (a minified or hostile file) is cut
        // around the caret rather than flooding the terminal.
        let renderer = renderer.term_width(240);
        let mut out = String::new();
        for d in &self.errors {
            out.push_str(&renderer.render(&[self.group(d)]));
            out.push_str("\n\n");
        }
        let total = self.errors.len() + self.omitted;
        let mut summary = format!("the description has {total} error{}", if total == 1 { "" } else { "s" });
        if self.omitted > 0 {
            let _ = write!(summary, "; {} more not shown", self.omitted);
        }
        out.push_str(&renderer.render(&[Group::with_title(Level::ERROR.primary_title(summary))]));
        out
    }

    fn group<'a>(&'a self, d: &'a Diagnostic) -> Group<'a> {
        let mut group = Group::with_title(Level::ERROR.primary_title(d.kind.to_string()));
        if let Some(span) = d.span {
            let path = self.sources.get(span.file).path.display().to_string();
            group = match self.sources.line_text(span) {
                // The line alone: a source may be large, and only this line
                // is shown, secret values hidden.
                Some(line) => {
                    let line = line.trim_end();
                    let start = line
                        .char_indices()
                        .nth(span.col.saturating_sub(1) as usize)
                        .map_or(line.len(), |(i, _)| i);
                    let (mut shown, mut hidden) = crate::secret::redact_line(line);
                    // A line below a secret key, more indented: part of its value.
                    let below_secret = self.below_secret(span, line);
                    if below_secret {
                        let from = line.len() - line.trim_start().len();
                        hidden = vec![crate::secret::Hidden {
                            start: from,
                            end: line.len(),
                        }];
                        shown = crate::secret::hide(line, &hidden).into();
                    } else if d.secret && !hidden.iter().any(|h| (h.start..h.end).contains(&start)) {
                        let end = crate::secret::value_end(line, start);
                        if end > start {
                            hidden.push(crate::secret::Hidden { start, end });
                            hidden.sort_by_key(|h| h.start);
                            shown = crate::secret::hide(line, &hidden).into();
                        }
                    }
                    let start = shifted(start, &hidden);
                    let end = shown[start..].chars().next().map_or(start, |c| start + c.len_utf8());
                    group.element(
                        Snippet::source(shown)
                            .line_start(span.line as usize)
                            .path(path)
                            .annotation(AnnotationKind::Primary.span(start..end)),
                    )
                }
                None => group.element(
                    Origin::path(path)
                        .line(span.line as usize)
                        .char_column(span.col as usize),
                ),
            };
        }
        if let Some(help) = &d.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        group
    }
}

impl Diagnostics {
    /// Whether the line at `span` (its text `line`) continues the value of a
    /// secret key written on a line above it: the nearest line above that is
    /// indented less names one.
    fn below_secret(&self, span: Span, line: &str) -> bool {
        let indent = |l: &str| l.len() - l.trim_start().len();
        let own = indent(line);
        if own == 0 {
            return false;
        }
        // Far enough for any value a description holds on its lines.
        for n in (span.line.saturating_sub(200).max(1)..span.line).rev() {
            let Some(above) = self.sources.line_text(Span {
                line: n,
                col: 1,
                ..span
            }) else {
                return false;
            };
            let t = above.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if indent(above) < own {
                return crate::secret::opens_secret(above);
            }
        }
        false
    }
}

/// Where byte `at` of a line is once the `hidden` values are replaced by
/// [`REDACTED`](crate::secret::REDACTED): inside one, at its start.
fn shifted(at: usize, hidden: &[crate::secret::Hidden]) -> usize {
    let mut delta: isize = 0;
    for h in hidden {
        if at < h.start {
            break;
        }
        if at < h.end {
            return h.start.saturating_add_signed(delta);
        }
        delta += crate::secret::REDACTED.len().cast_signed() - (h.end - h.start).cast_signed();
    }
    at.saturating_add_signed(delta)
}

impl fmt::Display for Diagnostics {
    /// [`Diagnostics::render`] without colours.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}

/// Collects errors while loading and building, up to [`MAX_ERRORS`].
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) omitted: usize,
}

impl Sink {
    pub(crate) fn push(&mut self, d: Diagnostic) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(d);
        } else {
            self.omitted += 1;
        }
    }

    pub(crate) fn err(&mut self, kind: ErrorKind, span: Span) {
        self.push(Diagnostic::new(kind, span));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// [`did_you_mean`] while errors are still shown; past [`MAX_ERRORS`]
    /// the search (linear in the candidates) is skipped, so that a
    /// description with a million mistakes against a million names is not
    /// quadratic.
    pub(crate) fn did_you_mean<'a>(&self, name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
        if self.errors.len() < MAX_ERRORS {
            did_you_mean(name, candidates)
        } else {
            None
        }
    }
}

/// Longest name a suggestion is looked for, or suggested: comparing two
/// strings costs the product of their lengths.
const MAX_SUGGESTED: usize = 100;

/// The closest candidate to a mistyped name, as a `help:` line.
pub(crate) fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    if name.len() > MAX_SUGGESTED {
        return None;
    }
    candidates
        .into_iter()
        // Two edits change the length by 8 bytes at most: skip the rest unread.
        .filter(|c| c.len() <= MAX_SUGGESTED && c.len().abs_diff(name.len()) <= 8)
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, c)| *d < 3 && *d < c.len().max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!("did you mean `{c}`?"))
}
