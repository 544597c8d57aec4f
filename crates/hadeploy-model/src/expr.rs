//! The Ansible expressions a description may hold: `{{ }}` that reads a
//! variable, as HADeploy's users write `"{{ app_home }}/logs"` or
//! `"{{ vault_password }}"`, and nothing that runs. The one place this rule
//! is written: `check_tree` applies it to every value of a description,
//! after variables are substituted, so that neither a value written there
//! nor one a variable brought in can make Ansible call a lookup, a
//! function or a method on the controller.
//!
//! What an expression may be: a variable, its members (`app.home`,
//! `app['home']`, `hosts[0]`; no name starting with `_`), then filters
//! among [`FILTERS`] with literal arguments (`| default('/opt/app')`,
//! `| password_hash('sha512')`). Jinja's `{%` and `{#` are never
//! interpreted (code generation writes them as literals).

use crate::error::{Diagnostic, Sink};
use crate::tree::{Node, NodeKind};

/// The filters an expression may apply: they compute from their input and
/// literal arguments only.
pub const FILTERS: &[&str] = &[
    "default",
    "d",
    "password_hash",
    "string",
    "int",
    "bool",
    "lower",
    "upper",
    "trim",
    "quote",
    "b64encode",
    "b64decode",
    "basename",
    "dirname",
];

/// Whether `s` holds `{{`, `{%` or `{#`, where Jinja would start reading.
pub fn has_jinja_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(2).any(|w| w[0] == b'{' && matches!(w[1], b'{' | b'%' | b'#'))
}

/// Why a value's `{{ }}` expressions are not all variable reads, or `None`.
pub fn expression_problem(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        let inner = &rest[at + 2..];
        let (len, problem) = read_expression(inner);
        if let Some(p) = problem {
            return Some(p);
        }
        rest = &inner[len..];
    }
    None
}

/// `text` as text Jinja renders back to itself, but for the `{{ }}`
/// expressions [`expression_problem`] accepts, which are kept: a `{` that
/// would start another `{{`, `{%` or `{#`, or that ends the text, is written
/// `{{ '{' }}`, so that none forms in it nor where it meets what follows
/// (another value, the text around it). For values a template inserts into
/// a file Ansible then renders (HADeploy's first pass over a
/// `conf_file_src`). A `{` that starts nothing stays (`{SHA}...`).
pub fn literal_braces(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('{') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let from = &rest[at..];
        if let Some(inner) = from.strip_prefix("{{") {
            let (len, problem) = read_expression(inner);
            if problem.is_none() {
                out.push_str(&from[..2 + len]);
                rest = &inner[len..];
                continue;
            }
        }
        let starts = matches!(from.as_bytes().get(1), None | Some(b'{' | b'%' | b'#'));
        out.push_str(if starts { "{{ '{' }}" } else { "{" });
        rest = &from[1..];
    }
    out.push_str(rest);
    out.into()
}

/// `text` with each variable that `is_own` names, read by one of its
/// `{{ }}` expressions, read from the map `map` when the host has no
/// variable of that name: `{{ app_home }}/logs` becomes
/// `{{ (app_home | default(MAP['app_home'])) }}/logs`, `{{ app.home }}`
/// `{{ (app | default(MAP['app'])).home }}`. For the roles' inputs, which
/// an estate reads without the description's variables under their own
/// names. Expressions [`expression_problem`] refuses, and text outside
/// expressions, are left as they are.
pub fn reroot<'t>(text: &'t str, map: &str, is_own: impl Fn(&str) -> bool) -> std::borrow::Cow<'t, str> {
    if !text.contains("{{") {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        let inner = &rest[at + 2..];
        let mut p = Parser::new(inner);
        let ok = p.expression().is_ok();
        out.push_str(&rest[..at + 2]);
        match p.root {
            Some((from, to)) if ok && is_own(&inner[from..to]) => {
                let name = &inner[from..to];
                out.push_str(&inner[..from]);
                out.push_str(&format!("({name} | default({map}['{name}']))"));
                out.push_str(&inner[to..p.at]);
            }
            _ => out.push_str(&inner[..p.at]),
        }
        rest = &inner[p.at..];
    }
    out.push_str(rest);
    out.into()
}

/// Reads one expression after its `{{`: how many bytes up to and with its
/// `}}`, and what is wrong with it.
fn read_expression(s: &str) -> (usize, Option<String>) {
    let mut p = Parser::new(s);
    let problem = p.expression().err();
    (p.at, problem)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
    /// Where the variable the expression reads is named.
    root: Option<(usize, usize)>,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser {
            s: s.as_bytes(),
            at: 0,
            root: None,
        }
    }

    fn skip_space(&mut self) {
        while self.s.get(self.at).is_some_and(|c| c.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.s.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn name(&mut self) -> Result<&str, String> {
        self.skip_space();
        let start = self.at;
        while self
            .s
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.at += 1;
        }
        let name = std::str::from_utf8(&self.s[start..self.at]).expect("ASCII");
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(self.unexpected());
        }
        if name.starts_with('_') {
            return Err(format!(
                "`{name}`: a name starting with `_` is Python's, not a variable's"
            ));
        }
        Ok(name)
    }

    fn unexpected(&mut self) -> String {
        match self.peek() {
            None => "an expression `{{` is not closed by `}}`".into(),
            Some(b'(') => "an expression calls a function or a method: it may only read a variable".into(),
            Some(_) => {
                let rest = String::from_utf8_lossy(&self.s[self.at..]);
                let word: String = rest.chars().take_while(|c| !c.is_whitespace()).take(20).collect();
                format!("an expression holds `{word}` where it may only read a variable and apply filters")
            }
        }
    }

    /// A literal: a quoted string without `\\`, `{%` or `{#` (code
    /// generation writes those as literals), a whole number, or a boolean
    /// or none.
    fn literal(&mut self) -> Result<(), String> {
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => {
                self.at += 1;
                while let Some(&c) = self.s.get(self.at) {
                    self.at += 1;
                    if c == q {
                        return Ok(());
                    }
                    let marker = c == b'{' && matches!(self.s.get(self.at), Some(b'%' | b'#'));
                    if c == b'\\' || marker {
                        return Err("a string in an expression may not hold `\\`, `{%` or `{#`".into());
                    }
                }
                Err("an expression `{{` is not closed by `}}`".into())
            }
            Some(c) if c.is_ascii_digit() || c == b'-' => {
                self.at += 1;
                while self.s.get(self.at).is_some_and(u8::is_ascii_digit) {
                    self.at += 1;
                }
                Ok(())
            }
            _ => match self.name()? {
                "true" | "false" | "True" | "False" | "none" | "None" => Ok(()),
                other => Err(format!(
                    "`{other}` is not a literal: a filter's arguments are strings, numbers or booleans"
                )),
            },
        }
    }

    fn expression(&mut self) -> Result<(), String> {
        if matches!(self.peek(), Some(b'\'' | b'"')) {
            // A string written as such: `{{ '{{' }}`.
            self.literal()?;
        } else {
            self.reference()?;
        }
        self.filters()?;
        if self.peek() == Some(b'}') && self.s.get(self.at + 1) == Some(&b'}') {
            self.at += 2;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// A variable and its members.
    fn reference(&mut self) -> Result<(), String> {
        self.skip_space();
        let from = self.at;
        self.name()?;
        self.root = Some((from, self.at));
        loop {
            if self.eat(b'.') {
                self.name()?;
            } else if self.eat(b'[') {
                if matches!(self.peek(), Some(b'\'' | b'"')) && self.s.get(self.at + 1) == Some(&b'_') {
                    return Err("a member starting with `_` is Python's, not a variable's".into());
                }
                self.literal()?;
                if !self.eat(b']') {
                    return Err(self.unexpected());
                }
            } else {
                return Ok(());
            }
        }
    }

    fn filters(&mut self) -> Result<(), String> {
        while self.eat(b'|') {
            let filter = self.name()?.to_string();
            if !FILTERS.contains(&filter.as_str()) {
                return Err(format!(
                    "the filter `{filter}` is not one an expression may apply here (these are: {})",
                    FILTERS.join(", ")
                ));
            }
            if self.eat(b'(') && !self.eat(b')') {
                loop {
                    self.literal()?;
                    if self.eat(b')') {
                        break;
                    }
                    if !self.eat(b',') {
                        return Err(self.unexpected());
                    }
                }
            }
        }
        Ok(())
    }
}

/// Checks every value of the description (after substitution; not the
/// vault values of `encrypted_vars`, nor `when`, which must be a boolean
/// when loaded) against [`expression_problem`].
pub(crate) fn check_tree(root: &[(Node, Node)], vars: &indexmap::IndexMap<String, Node>, sink: &mut Sink) {
    // The variables are written for Ansible too (`group_vars/all.yml`).
    for (name, v) in vars {
        check_node(name, v, sink);
    }
    for (k, v) in root {
        let key = k.as_scalar().map(|s| s.text.as_str()).unwrap_or_default();
        if key != "encrypted_vars" {
            check_node(key, v, sink);
        }
    }
}

fn check_node(key: &str, node: &Node, sink: &mut Sink) {
    // An explicit stack: values may nest as deep as the loader allows.
    let mut stack = vec![(key.to_string(), node)];
    while let Some((key, node)) = stack.pop() {
        match &node.kind {
            NodeKind::Scalar(s) if !s.vault && key != "when" => {
                if let Some(reason) = expression_problem(&s.text) {
                    // The reason may quote a part of the value: never a secret's.
                    let d = if crate::secret::is_secret_key(&key) {
                        let why = "it holds an Ansible expression that does more than read a variable";
                        Diagnostic::invalid_value(&key, why, node.span).secret()
                    } else {
                        Diagnostic::invalid_value(&key, reason, node.span)
                    };
                    sink.push(d.help(HELP));
                }
            }
            NodeKind::Scalar(_) => {}
            NodeKind::Seq(items) => stack.extend(items.iter().rev().map(|i| (key.clone(), i))),
            NodeKind::Map(entries) => stack.extend(entries.iter().rev().map(|(k, v)| {
                let key = k.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
                (key, v)
            })),
        }
    }
}

const HELP: &str = "Ansible reads `{{ }}` here to read a variable, e.g. `{{ app_home }}` or `{{ vault_pw | password_hash('sha512') }}`: \
     compute anything else in an inventory or a `tmpl://` template; write `{{ '{{' }}` for a literal `{{`";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_reads_are_expressions_a_description_may_hold() {
        for ok in [
            "plain text, { and } and {% and {# too",
            "{{ app_home }}/logs",
            "{{app.home}}",
            "{{ hosts[0] }} {{ app['home'] }}",
            "{{ vault_pw | password_hash('sha512') }}",
            "{{ port | default(8080) | string }}",
            "{{ x | d }}",
            "{{ '{{' }}",
            "{{ x | default('}}{{ lookup(1) }}') }}",
        ] {
            assert_eq!(expression_problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn calls_lookups_and_python_internals_are_refused() {
        for (bad, why) in [
            ("{{ lookup('pipe', 'touch MARK') }}", "calls"),
            ("{{ query('pipe','id') }}", "calls"),
            ("{{ x.__class__ }}", "`_`"),
            ("{{ x['__class__'] }}", "`_`"),
            ("{{ ''.join(x) }}", "holds"),
            ("{{ x | map('y') }}", "filter `map`"),
            ("{{ x | default(lookup('pipe','id')) }}", "not a literal"),
            ("{{ x | default('{% x %}') }}", "may not hold"),
            ("{{ x | default('\\'') }}", "may not hold"),
            ("{{ app_home", "not closed"),
            ("{{ a }} then {{ b + 1 }}", "holds `+"),
            ("{{ x.y() }}", "calls"),
        ] {
            let p = expression_problem(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(p.contains(why), "{bad}: {p}");
        }
    }

    #[test]
    fn braces_that_start_no_variable_read_are_written_as_literals() {
        assert_eq!(literal_braces("plain"), "plain");
        assert_eq!(literal_braces("{{ app_home }}/x"), "{{ app_home }}/x");
        assert_eq!(literal_braces("{\"a\": 1}"), "{\"a\": 1}");
        assert_eq!(literal_braces("{SHA}d033"), "{SHA}d033");
        assert_eq!(literal_braces("x{"), "x{{ '{' }}");
        assert_eq!(literal_braces("{% if %}"), "{{ '{' }}% if %}");
        assert_eq!(
            literal_braces("{{ lookup('pipe','id') }}"),
            "{{ '{' }}{ lookup('pipe','id') }}"
        );
        // Two values side by side form no expression.
        let joined = format!("{}{}", literal_braces("{"), literal_braces("{ lookup('pipe','id') }}"));
        assert_eq!(expression_problem(&joined), None, "{joined}");
    }

    #[test]
    fn the_description_s_variables_are_read_from_a_map_when_the_host_has_none() {
        let own = |n: &str| ["app_home", "app", "items", "pw"].contains(&n);
        let r = |t| reroot(t, "hadeploy_vars", own).into_owned();
        assert_eq!(r("plain {text}"), "plain {text}");
        assert_eq!(
            r("{{ app_home }}/logs"),
            "{{ (app_home | default(hadeploy_vars['app_home'])) }}/logs"
        );
        assert_eq!(
            r("{{app.home}}-{{ app['x'] }}"),
            "{{(app | default(hadeploy_vars['app'])).home}}-{{ (app | default(hadeploy_vars['app']))['x'] }}"
        );
        // A name that is also a method of a map is read as a member.
        assert_eq!(r("{{ items }}"), "{{ (items | default(hadeploy_vars['items'])) }}");
        assert_eq!(
            r("{{ pw | password_hash('sha512') }}"),
            "{{ (pw | default(hadeploy_vars['pw'])) | password_hash('sha512') }}"
        );
        // Other variables (the inventory's, facts), literals, and what is
        // refused anyway, stay.
        for same in ["{{ ansible_fqdn }}", "{{ '{{' }}", "{{ lookup('x') }} {{ app", "x {{"] {
            assert_eq!(r(same), same);
        }
    }

    #[test]
    fn markers_are_found_where_jinja_starts_reading() {
        assert!(has_jinja_marker("a{{b"));
        assert!(has_jinja_marker("{%"));
        assert!(has_jinja_marker("x{#"));
        assert!(!has_jinja_marker("{ {x} }%#"));
    }
}
