//! HADeploy's variables: every value holding `{` is rendered by Jinja2 with
//! `${ }` for variables, `%{ }` for blocks and `#{ }` for comments, then
//! every value holding `>>` again with `<< >>`, `%< >>` and `#< >>`; both with
//! undefined variables as errors and `trim_blocks` (`lib/hadeploy/core/parser.py`).
//! minijinja renders the same language. Plain `${name}` references, the
//! usual case, are substituted by the loader itself, faster, with the same
//! result; this module renders the rest (`${port + 1}`,
//! `${x | default(9090)}`, `%{ if a is defined }...`).

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};

/// Instructions one value may run: a loop over a few thousand items, not
/// a hostile one without end.
const FUEL: u64 = 100_000;

/// Longest line, and most lines, of a value rendered: minijinja counts
/// lines and columns in 16 bits.
const MAX_LINE: usize = 60_000;

/// The two engines, built once per load.
pub(crate) struct Jinja {
    dollar: Environment<'static>,
    angle: Environment<'static>,
}

/// Why a value could not be rendered.
pub(crate) enum Failure {
    /// These variables (or `a.b` members) are used but not defined.
    Undefined(Vec<String>),
    /// Anything else: a syntax error, a type error, too much work. The
    /// offset, when known, is the byte of the original text it is about.
    Other { message: String, offset: Option<usize> },
}

fn engine(
    var: (&'static str, &'static str),
    block: (&'static str, &'static str),
    comment: (&'static str, &'static str),
) -> Environment<'static> {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .variable_delimiters(var.0, var.1)
        .block_delimiters(block.0, block.1)
        .comment_delimiters(comment.0, comment.1)
        .trim_blocks(true)
        // The loader's own substitution keeps a value's last line break: so does this.
        .keep_trailing_newline(true)
        .build()
        .expect("distinct start markers");
    env.set_syntax(syntax);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env
}

impl Jinja {
    pub(crate) fn new() -> Self {
        Jinja {
            dollar: engine(("${", "}"), ("%{", "}"), ("#{", "}")),
            angle: engine(("<<", ">>"), ("%<", ">>"), ("#<", ">>")),
        }
    }

    /// `text` rendered as HADeploy renders a value: with `${ }` if it holds
    /// a `{`, then with `<< >>` if the result holds `>>`. `defined` says
    /// whether a name (or an `a.b` path) is defined, to name the culprits of
    /// an undefined-variable error.
    pub(crate) fn render(&self, text: &str, ctx: &Value, defined: &dyn Fn(&str) -> bool) -> Result<String, Failure> {
        if text.split('\n').any(|l| l.len() > MAX_LINE) || text.split('\n').nth(MAX_LINE).is_some() {
            return Err(Failure::Other {
                message: format!(
                    "a value of more than {MAX_LINE} lines, or a line longer than {MAX_LINE} bytes, cannot hold `${{ }}` expressions"
                ),
                offset: None,
            });
        }
        if let Some(message) = too_complex(text) {
            return Err(Failure::Other { message, offset: None });
        }
        let mut out = text.to_string();
        if out.contains('{') {
            out = render_with(&self.dollar, &out, ctx, defined, true)?;
        }
        if out.contains(">>") {
            // Offsets in the first pass's output do not map back to the text.
            out = render_with(&self.angle, &out, ctx, defined, false)?;
        }
        Ok(out)
    }
}

/// Most operators, and deepest nesting of brackets, in one `${ }` or
/// `%{ }`: far more than a description's expressions need, far less than
/// what makes minijinja's parser and optimiser, which recurse and fold
/// constants before the fuel of [`FUEL`] counts, overflow the stack or
/// run for minutes (`${ 1+1+...+1 }`, `${ ((((...)))) }`).
const MAX_OPERATORS: usize = 256;
const MAX_NESTING: usize = 32;

/// Why an expression of `text` is too large to be given to minijinja.
fn too_complex(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        if !(matches!(b[i], b'$' | b'%') && b[i + 1] == b'{') {
            i += 1;
            continue;
        }
        let (mut ops, mut depth, mut deepest) = (0usize, 0usize, 0usize);
        i += 2;
        while i < b.len() && !(b[i] == b'}' && depth == 0) {
            match b[i] {
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                b'+' | b'-' | b'*' | b'/' | b'%' | b'~' | b'|' | b'<' | b'>' | b'=' | b'!' | b',' | b'.' => ops += 1,
                b' ' if text[i..].starts_with(" and ")
                    || text[i..].starts_with(" or ")
                    || text[i..].starts_with(" not ") =>
                {
                    ops += 1;
                }
                _ => {}
            }
            i += 1;
        }
        if ops > MAX_OPERATORS || deepest > MAX_NESTING {
            return Some(format!(
                "an expression with more than {MAX_OPERATORS} operators or {MAX_NESTING} levels of brackets is refused"
            ));
        }
    }
    None
}

fn render_with(
    env: &Environment<'static>,
    text: &str,
    ctx: &Value,
    defined: &dyn Fn(&str) -> bool,
    offsets: bool,
) -> Result<String, Failure> {
    let fail = |e: minijinja::Error| {
        let offset = if offsets { e.range().map(|r| r.start) } else { None };
        let message = match e.detail() {
            Some(d) => format!("{}: {d}", e.kind()),
            None => e.kind().to_string(),
        };
        Failure::Other { message, offset }
    };
    let tmpl = env.template_from_str(text).map_err(fail)?;
    tmpl.render(ctx).map_err(|e| {
        // An undefined variable fails however it is used (`${ x }`,
        // `${ x + 1 }`): named as such, so that "defined later" is told.
        let global = |n: &str| {
            let root = n.split('.').next().unwrap_or(n);
            env.globals().any(|(g, _)| g == root)
        };
        let mut names: Vec<String> = tmpl
            .undeclared_variables(true)
            .into_iter()
            .filter(|n| !defined(n) && !global(n))
            .collect();
        names.sort();
        if names.is_empty() || !matches!(e.kind(), ErrorKind::UndefinedError | ErrorKind::InvalidOperation) {
            fail(e)
        } else {
            Failure::Undefined(names)
        }
    })
}
