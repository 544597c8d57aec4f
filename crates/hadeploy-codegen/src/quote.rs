//! The only two ways a user value reaches a generated file: as a YAML scalar
//! or as a supervisor INI value. Templates call these through the `yaml`,
//! `yaml_block`, `ini` and `ini_conf` filters and never print a user value raw; the files
//! written without a template (the roles' inputs, program files) call them
//! directly, `data` through [`BlockMap`].

use hadeploy_model::format::{ini_value_problem, is_word, supervisor_comment_start};

use std::fmt::Write as _;

use serde_json::Value;

/// A value as YAML flow text: strings double-quoted, maps and lists in flow
/// style. Escapes everything PyYAML (YAML 1.1, what Ansible reads with) would
/// otherwise fold, reject or misread: control characters, C1, NEL, the
/// Unicode line and paragraph separators, BOM and non-characters.
///
/// Every generated YAML file holds Ansible variables, which Ansible renders
/// with Jinja2 when it uses them: string values (not map keys, which
/// Ansible leaves alone) go through [`jinja_literal`], so that `{{ }}`
/// reaches Ansible as the description's rule says, and `{%` or `{#` arrive
/// as written.
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    yaml_into(value, &mut out);
    out
}

fn yaml_into(value: &Value, out: &mut String) {
    flow_into(value, out, false);
}

/// `value` in flow style; `ansible`: a value Ansible gave (an inventory's),
/// its strings written as they are and its vault and unsafe values tagged
/// again, else a description's, its strings through [`value_str_into`].
fn flow_into(value: &Value, out: &mut String, ansible: bool) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) if ansible => data_str_into(s, out),
        Value::String(s) => value_str_into(s, out),
        Value::Object(map) if ansible && tagged(map).is_some() => {
            let (tag, text) = tagged(map).expect("checked");
            out.push_str(tag);
            out.push(' ');
            yaml_str_into(text, out);
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow_into(item, out, ansible);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                yaml_str_into(k, out);
                out.push_str(": ");
                flow_into(v, out, ansible);
            }
            out.push('}');
        }
    }
}

/// A vault or unsafe value as `ansible-inventory` lists it
/// (`{"__ansible_vault": TEXT}`): its YAML tag and its text.
fn tagged(map: &serde_json::Map<String, Value>) -> Option<(&'static str, &str)> {
    let (k, v) = map.iter().next().filter(|_| map.len() == 1)?;
    let tag = match k.as_str() {
        "__ansible_vault" => "!vault",
        "__ansible_unsafe" => "!unsafe",
        _ => return None,
    };
    v.as_str().map(|t| (tag, t))
}

/// A variable read from an Ansible inventory, as YAML flow text that
/// Ansible reads back as the same value: strings as data
/// ([`data_str_into`]: an inventory's value is never rendered by the
/// project), vault and unsafe values (`{"__ansible_vault": TEXT}` as
/// `ansible-inventory` lists them) tagged `!vault` and `!unsafe` again.
pub fn yaml_ansible(value: &Value) -> String {
    let mut out = String::new();
    flow_into(value, &mut out, true);
    out
}

/// Data that did not come from a description (a key file's line, an
/// inventory's value, a value given on the command line), as YAML flow
/// text Ansible reads as the same value and never renders: see
/// [`data_str_into`].
pub fn yaml_data(value: &Value) -> String {
    yaml_ansible(value)
}

/// A string Ansible must take as data, whatever it holds: double-quoted,
/// and tagged `!unsafe` when it holds `{{`, `{%` or `{#`, so that Ansible
/// never renders it (its only way of saying so in a variables file).
pub fn data_str_into(s: &str, out: &mut String) {
    if has_jinja_marker(s) {
        out.push_str("!unsafe ");
    }
    yaml_str_into(s, out);
}

/// A value as it follows `key:` in block style: scalars and empty
/// collections on the same line, maps and lists indented by `indent` on the
/// next lines. Every scalar is quoted as by [`yaml`].
pub fn yaml_block(value: &Value, indent: usize) -> String {
    let mut out = String::new();
    after_key(value, indent, &mut out);
    out
}

fn is_empty_collection(v: &Value) -> bool {
    matches!(v, Value::Array(a) if a.is_empty()) || matches!(v, Value::Object(m) if m.is_empty())
}

fn after_key(v: &Value, ind: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                out.push('\n');
                indent(out, ind);
                key_into(k, out);
                after_key(v, ind + 2, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                out.push('\n');
                indent(out, ind);
                out.push_str("- ");
                item_into(item, ind + 2, out);
            }
        }
        _ => {
            out.push(' ');
            yaml_into(v, out);
        }
    }
}

fn item_into(v: &Value, ind: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    indent(out, ind);
                }
                key_into(k, out);
                after_key(v, ind + 2, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    indent(out, ind);
                }
                out.push_str("- ");
                item_into(item, ind + 2, out);
            }
        }
        _ if is_empty_collection(v) => yaml_into(v, out),
        _ => yaml_into(v, out),
    }
}

/// A string value as [`yaml`] writes it: through [`jinja_literal`], then
/// double-quoted.
pub fn value_str_into(s: &str, out: &mut String) {
    if has_jinja_marker(s) {
        yaml_str_into(&jinja_literal(s), out);
    } else {
        yaml_str_into(s, out);
    }
}

fn indent(out: &mut String, n: usize) {
    const SPACES: &str = "                ";
    match SPACES.get(..n) {
        Some(spaces) => out.push_str(spaces),
        None => out.extend(std::iter::repeat_n(' ', n)),
    }
}

/// The description's variables (`vars`, `encrypted_vars`), as the roles'
/// inputs read them: from the one input `hadeploy_vars` when the host has
/// no variable of the name, so that an estate's play gets them without
/// its own names being set ([`hadeploy_model::expr::reroot`]).
#[derive(Debug, Default)]
pub struct OwnVars {
    names: std::collections::BTreeSet<String>,
    /// The input that holds them.
    input: &'static str,
}

impl OwnVars {
    /// The variables named `names`, held by the input `input`.
    pub fn new(input: &'static str, names: impl IntoIterator<Item = String>) -> Self {
        OwnVars {
            names: names.into_iter().collect(),
            input,
        }
    }

    /// `v` with the variables of the description it reads read so.
    pub fn reroot<'v>(&self, v: &'v str) -> std::borrow::Cow<'v, str> {
        if self.names.is_empty() {
            return v.into();
        }
        hadeploy_model::expr::reroot(v, self.input, |n| self.names.contains(n))
    }

    /// `v` with every string in it rerooted so.
    pub fn reroot_value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.reroot(s).into_owned()),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.reroot_value(v)).collect()),
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), self.reroot_value(v))).collect()),
            other => other.clone(),
        }
    }

    /// `name:` then the description's variables, by `vars` (plain values)
    /// and `vault` (the lines of encrypted ones), as a top-level map.
    pub fn write_map(&self, vars: &[(&str, &Value)], vault: &[(&str, Vec<String>)], out: &mut String) {
        key_into(self.input, out);
        if vars.is_empty() && vault.is_empty() {
            out.push_str(" {}\n");
            return;
        }
        for (k, v) in vars {
            out.push_str("\n  ");
            key_into(k, out);
            after_key(&self.reroot_value(v), 4, out);
        }
        for (k, lines) in vault {
            out.push_str("\n  ");
            key_into(k, out);
            out.push_str(" !vault |");
            for l in lines {
                out.push_str("\n    ");
                out.push_str(l);
            }
        }
        out.push('\n');
    }
}

/// The keys of one map, written in block style straight into a `String`,
/// exactly as [`yaml_block`] writes the same map built as a [`Value`]: keys
/// through the same key rule, every scalar through the same quoting. For
/// files too large to build as values first (`vars/hadeploy.yml`).
pub struct BlockMap<'a> {
    out: &'a mut String,
    vars: &'a OwnVars,
    /// The column of the keys.
    ind: usize,
    first: bool,
}

impl<'a> BlockMap<'a> {
    /// One item of a block list, `- ` at column `dash`, its first key on
    /// the same line: what `- ` followed by the map is in a list written by
    /// [`yaml_block`]. Starts with a line break.
    pub fn item(out: &'a mut String, dash: usize, vars: &'a OwnVars) -> Self {
        out.push('\n');
        indent(out, dash);
        out.push_str("- ");
        BlockMap {
            out,
            vars,
            ind: dash + 2,
            first: true,
        }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push('\n');
            indent(self.out, self.ind);
        }
        self.first = false;
        key_into(k, self.out);
    }

    /// `k: "v"`, the description's variables its expressions read taken
    /// from `hadeploy_vars` when the host has none ([`OwnVars`]).
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        self.out.push(' ');
        value_str_into(&self.vars.reroot(v), self.out);
        self
    }

    /// `k: "v"`, `v` taken as data ([`data_str_into`]): for values that
    /// did not come from a description, whose `{{ }}` the model has not
    /// checked.
    pub fn data(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        self.out.push(' ');
        data_str_into(v, self.out);
        self
    }

    /// `k: true` or `k: false`.
    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out.push_str(if v { " true" } else { " false" });
        self
    }

    /// `k: 45`.
    pub fn int(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k);
        self.out.push(' ');
        self.out.push_str(&v.to_string());
        self
    }

    /// `k:` then the strings as a block list, or `k: []`.
    pub fn strs(&mut self, k: &str, v: &[String]) -> &mut Self {
        self.key(k);
        if v.is_empty() {
            self.out.push_str(" []");
        }
        for s in v {
            self.out.push('\n');
            indent(self.out, self.ind + 2);
            self.out.push_str("- ");
            value_str_into(&self.vars.reroot(s), self.out);
        }
        self
    }

    /// More keys of a map whose first keys, at column `ind`, are already
    /// written.
    pub fn continued(out: &'a mut String, ind: usize, vars: &'a OwnVars) -> Self {
        BlockMap {
            out,
            vars,
            ind,
            first: false,
        }
    }

    /// `k:` then a nested map, written by `f` (which must write at least one key).
    pub fn map(&mut self, k: &str, f: impl FnOnce(&mut BlockMap<'_>)) -> &mut Self {
        self.key(k);
        self.out.push('\n');
        indent(self.out, self.ind + 2);
        let mut inner = BlockMap {
            out: self.out,
            vars: self.vars,
            ind: self.ind + 2,
            first: true,
        };
        f(&mut inner);
        self
    }

    /// `k:` then a list of maps: `f` writes its items with [`BlockMap::item`]
    /// at the column it is given, and `k: []` is written when it writes
    /// nothing.
    pub fn list(&mut self, k: &str, f: impl FnOnce(&mut String, usize)) -> &mut Self {
        self.key(k);
        let len = self.out.len();
        f(self.out, self.ind + 2);
        if self.out.len() == len {
            self.out.push_str(" []");
        }
        self
    }
}

/// `key:` then a top-level block list, on its own lines: `f` writes its
/// items with [`BlockMap::item`] at the column it is given, and `key: []` is
/// written when it writes nothing.
pub fn top_list(out: &mut String, k: &str, f: impl FnOnce(&mut String, usize)) {
    key_into(k, out);
    let len = out.len();
    f(out, 2);
    if out.len() == len {
        out.push_str(" []");
    }
    out.push('\n');
}

/// `key: value` of a top-level scalar, on its own line.
pub fn top_scalar(out: &mut String, k: &str, v: &Value) {
    key_into(k, out);
    out.push(' ');
    yaml_into(v, out);
    out.push('\n');
}

/// A map key: plain when it is an identifier YAML 1.1 cannot misread, else quoted.
fn key_into(k: &str, out: &mut String) {
    let plain = hadeploy_model::format::is_var_name(k)
        && !["y", "n", "yes", "no", "on", "off", "true", "false", "null"]
            .iter()
            .any(|w| k.eq_ignore_ascii_case(w));
    if plain {
        out.push_str(k);
    } else {
        yaml_str_into(k, out);
    }
    out.push(':');
}

/// Jinja's block and comment markers written as Jinja string literals,
/// which render back to the same characters: `{%` becomes `{{ '{%' }}`
/// and `{#` becomes `{{ '{#' }}` (and, in a value Jinja renders, a
/// carriage return `{{ '\r' }}`). `{{ }}` is left for Ansible, on purpose.
/// Everything generated is rendered by Ansible exactly once (INI files by
/// its `template` module, YAML values when the variable is used), so the
/// value arrives as written: a shell's `${#list[@]}` is not a comment.
pub fn jinja_literal(s: &str) -> String {
    if !has_jinja_marker(s) {
        return s.to_string();
    }
    // A value Ansible renders has its line breaks normalised by Jinja: a
    // carriage return survives as a string literal only.
    s.replace("{%", "{{ '{%' }}")
        .replace("{#", "{{ '{#' }}")
        .replace('\r', "{{ '\\r' }}")
}

pub(crate) use hadeploy_model::expr::has_jinja_marker;

/// A string as a YAML double-quoted scalar, as is (map keys, comments).
pub fn yaml_str(s: &str) -> String {
    let mut out = String::new();
    yaml_str_into(s, &mut out);
    out
}

fn yaml_str_into(s: &str, out: &mut String) {
    out.push('"');
    // Runs of characters written as they are are copied whole.
    let bytes = s.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        let b = bytes[i];
        if (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        // `i` is at a character boundary: every step is a whole character.
        let c = s[i..].chars().next().expect("a character at a boundary");
        let at = i;
        i += c.len_utf8();
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\t' => "\\t",
            '\r' => "\\r",
            c if needs_yaml_escape(c) => "",
            _ => continue,
        };
        out.push_str(&s[start..at]);
        start = i;
        if escape.is_empty() {
            write!(out, "\\u{:04X}", u32::from(c)).expect("writing to a String");
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn needs_yaml_escape(c: char) -> bool {
    matches!(u32::from(c), 0..=0x1F | 0x7F..=0x9F | 0x2028 | 0x2029 | 0xFEFF | 0xFFFE | 0xFFFF)
}

/// Why a value cannot be written as a supervisor INI value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError(pub String);

/// A value supervisor expands (`command`, `process_name`, log paths,
/// `directory`): `%(name)s` expansions pass through, every other `%` is
/// doubled so that it reaches the program as written.
///
/// supervisor's config parser (Python's `RawConfigParser` with
/// `inline_comment_prefixes=(';', '#')`) cuts a value at a `;` or `#` that
/// follows whitespace, and drops leading and trailing whitespace: such values
/// are refused. [`command`] handles the comment case for command lines.
pub fn ini_value(s: &str) -> Result<String, IniError> {
    if let Some(reason) = ini_value_problem(s) {
        return Err(IniError(reason));
    }
    Ok(escape_percent(s))
}

/// A supervisor format string the model has checked (`process_name`):
/// written as is, its `%` left for supervisor to expand. Otherwise as
/// [`ini_value`].
pub fn ini_format(s: &str) -> Result<String, IniError> {
    ini_value(s)?;
    Ok(s.to_string())
}

/// A value of `supervisord.conf` itself, where supervisor knows none of a
/// program's expansions (the web interface's user name, the paths): every
/// `%` is doubled, so that the value arrives as written. Otherwise as
/// [`ini_value`].
pub fn ini_conf_value(s: &str) -> Result<String, IniError> {
    ini_value(s)?;
    Ok(s.replace('%', "%%"))
}

/// A command line. supervisor splits it with Python's `shlex.split`, so a
/// `;` or `#` after whitespace can be backslash-escaped (outside quotes) or
/// moved out of the quotes (`'a '\;' b'`): both read back as the same
/// argument, and the config parser no longer sees a comment.
pub fn command(s: &str) -> Result<String, IniError> {
    check_line(s)?;
    if s.trim_matches([' ', '\t']).trim() != s.trim_matches([' ', '\t']) {
        return Err(IniError(
            "a command that starts or ends with whitespace other than spaces loses it in supervisor's configuration"
                .into(),
        ));
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut quote: Option<char> = None;
    let mut prev: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None => match c {
                '\\' => {
                    out.push(c);
                    if let Some(n) = chars.next() {
                        out.push(n);
                        prev = Some(n);
                        continue;
                    }
                }
                '\'' | '"' => quote = Some(c),
                ';' | '#' if prev.is_some_and(char::is_whitespace) => out.push('\\'),
                _ => {}
            },
            Some(q) => {
                if c == q {
                    quote = None;
                } else if q == '"' && c == '\\' {
                    out.push(c);
                    if let Some(n) = chars.next() {
                        out.push(n);
                        prev = Some(n);
                        continue;
                    }
                } else if matches!(c, ';' | '#') && prev.is_some_and(char::is_whitespace) {
                    // Close the quotes, escape, reopen: shlex joins the pieces.
                    out.push(q);
                    out.push('\\');
                    out.push(c);
                    out.push(q);
                    prev = Some(q);
                    continue;
                }
            }
        }
        out.push(c);
        prev = Some(c);
    }
    Ok(escape_percent(&out))
}

/// One `KEY="value"` of an `environment` line. supervisor reads the line
/// with a non-POSIX `shlex` (no backslash escapes; quotes stripped from both
/// ends of the value), then expands `%`: the value is quoted with `"` (or
/// `'` when it holds `"`), supervisor's expansions (`%(ENV_PATH)s`,
/// `%(program_name)s`...) kept, every other `%` doubled. Values no quoting
/// can carry are refused rather than silently changed.
pub fn env_pair(key: &str, value: &str) -> Result<String, IniError> {
    check_line(value)?;
    if !is_word(key) {
        return Err(IniError(format!("`{key}` is not a valid environment variable name")));
    }
    if value.starts_with(['"', '\'']) || value.ends_with(['"', '\'']) {
        return Err(IniError(format!(
            "the value of `{key}` starts or ends with a quote, which supervisor strips"
        )));
    }
    let q = match (value.contains('"'), value.contains('\'')) {
        (false, _) => '"',
        (true, false) => '\'',
        (true, true) => {
            return Err(IniError(format!(
                "the value of `{key}` holds both `\"` and `'`, which supervisor cannot read back"
            )));
        }
    };
    if let Some(c) = supervisor_comment_start(value) {
        return Err(IniError(format!(
            "in the value of `{key}`, a `{c}` after a space would start a comment in supervisor's configuration"
        )));
    }
    Ok(format!("{key}={q}{}{q}", escape_percent(value)))
}

fn check_line(s: &str) -> Result<(), IniError> {
    if s.contains(['\n', '\r']) {
        return Err(IniError(
            "a line break cannot be written in supervisor's configuration".into(),
        ));
    }
    Ok(())
}

/// Names supervisor expands in a program's options: `%(name)s` with one of
/// these passes through, and so does `%(ENV_X)s`.
pub const EXPANSIONS: &[&str] = &[
    "program_name",
    "process_num",
    "group_name",
    "host_node_name",
    "numprocs",
    "here",
];

/// A supervisor expansion at the start of `s` (just after a `%`): `(name)`
/// with a known name, Python's format flags and width, and a conversion.
/// Its length in bytes, without the `%`.
fn expansion_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix('(')?;
    let close = rest.find(')')?;
    let name = &rest[..close];
    let known = EXPANSIONS.contains(&name) || name.strip_prefix("ENV_").is_some_and(is_word);
    if !known {
        return None;
    }
    let after = &rest[close + 1..];
    let spec = after
        .bytes()
        .take_while(|b| b.is_ascii_digit() || matches!(b, b'#' | b'-' | b'+' | b' ' | b'.'))
        .count();
    let conv = after[spec..].chars().next()?;
    "diouxXeEfFgGcrsa".contains(conv).then(|| 1 + close + 1 + spec + 1)
}

/// Supervisor expansions ([`EXPANSIONS`], `%(ENV_X)s`) pass through; any
/// other `%` becomes `%%`, so that it arrives as written.
fn escape_percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(at) = s[i..].find('%') {
        let at = i + at;
        out.push_str(&s[i..at]);
        match expansion_len(&s[at + 1..]) {
            Some(n) => {
                out.push_str(&s[at..at + 1 + n]);
                i = at + 1 + n;
            }
            None => {
                out.push_str("%%");
                i = at + 1;
            }
        }
    }
    out.push_str(&s[i..]);
    out
}

/// Characters written unquoted into systemd units and shell scripts.
pub fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_.@/+:-".contains(c)
}

/// The lines of encrypted variable `k`'s vault value `v`, written
/// unquoted in a block scalar: a vault holds nothing else.
pub(crate) fn vault_lines(k: &str, v: &str) -> Result<Vec<String>, crate::RenderError> {
    let lines: Vec<String> = v.lines().map(str::to_string).collect();
    let safe = |l: &String| l.chars().all(|c| c.is_ascii_alphanumeric() || "$;._@-".contains(c));
    if !hadeploy_model::format::is_var_name(k) || lines.is_empty() || !lines.iter().all(safe) {
        return Err(crate::RenderError::Value {
            what: format!("encrypted variable `{k}`"),
            reason: "it is not an Ansible Vault value".into(),
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_escapes_what_pyyaml_would_fold() {
        assert_eq!(yaml_str("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(yaml_str("x\u{2028}y\u{85}"), r#""x\u2028y\u0085""#);
        assert_eq!(yaml_str("é: #{{ x }}"), "\"é: #{{ x }}\"");
        let v = Value::from("${#n} {% raw %} {{ x }}");
        assert_eq!(yaml(&v), r#""${{ '{#' }}n} {{ '{%' }} raw %} {{ x }}""#);
        let m = serde_json::json!({"k{#": "v{#"});
        assert_eq!(
            yaml(&m),
            r#"{"k{#": "v{{ '{#' }}"}"#,
            "keys are not rendered by Ansible"
        );
    }

    #[test]
    fn jinja_markers_are_found_anywhere() {
        for s in ["{{", "a{%", "x {#y", "é{{", "{ {{"] {
            assert!(has_jinja_marker(s), "{s}");
        }
        for s in ["", "{", "a{ b}", "{}{", "%{ #{", "{é"] {
            assert!(!has_jinja_marker(s), "{s}");
        }
    }

    #[test]
    fn the_block_writer_writes_what_yaml_block_writes() {
        let hostile = "a: \"b\" # {% x %} {{ y }} {# z\r\n\u{2028}é 50%";
        let items = serde_json::json!([
            {"name": hostile, "on": true, "groups": ["x", hostile], "none": [],
             "layout": {"yes": hostile, "b": "c"},
             "notify": [{"p": hostile, "q": "r"}, {"p": "s", "q": "t"}], "off": []},
            {"name": "n", "list": [{"p": "only"}], "last": false},
        ]);
        let none = OwnVars::default();
        let mut out = String::new();
        top_list(&mut out, "k", |out, dash| {
            BlockMap::item(out, dash, &none)
                .str("name", hostile)
                .bool("on", true)
                .strs("groups", &["x".into(), hostile.into()])
                .strs("none", &[])
                .map("layout", |l| {
                    l.str("yes", hostile).str("b", "c");
                })
                .list("notify", |out, dash| {
                    BlockMap::item(out, dash, &none).str("p", hostile).str("q", "r");
                    BlockMap::item(out, dash, &none).str("p", "s").str("q", "t");
                });
            BlockMap::continued(out, dash + 2, &none).list("off", |_, _| {});
            BlockMap::item(out, dash, &none)
                .str("name", "n")
                .list("list", |out, dash| {
                    BlockMap::item(out, dash, &none).str("p", "only");
                })
                .bool("last", false);
        });
        assert_eq!(out, format!("k:{}\n", yaml_block(&items, 2)));
        let mut empty = String::new();
        top_list(&mut empty, "k", |_, _| {});
        assert_eq!(empty, format!("k:{}\n", yaml_block(&serde_json::json!([]), 2)));
    }

    #[test]
    fn command_keeps_expansions_and_hides_comments() {
        assert_eq!(command("a %(process_num)d 50%").unwrap(), "a %(process_num)d 50%%");
        assert_eq!(
            command("%(nope)s %(ENV_HOME)s %(program_name)").unwrap(),
            "%%(nope)s %(ENV_HOME)s %%(program_name)"
        );
        assert_eq!(command("echo a ; b").unwrap(), r"echo a \; b");
        assert_eq!(command("sh -c 'a ;b #c'").unwrap(), r"sh -c 'a '\;'b '\#'c'");
        assert_eq!(command(r#"sh -c "x \" ;y""#).unwrap(), r#"sh -c "x \" "\;"y""#);
        assert_eq!(command("a;b x#y").unwrap(), "a;b x#y");
    }

    #[test]
    fn env_values_are_quoted_or_refused() {
        assert_eq!(env_pair("A", "say \"hi\", 50%").unwrap(), "A='say \"hi\", 50%%'");
        assert_eq!(env_pair("A", "x;y").unwrap(), "A=\"x;y\"");
        assert!(env_pair("A", "it's \"x\"").is_err());
        assert!(env_pair("A", "\"x").is_err());
        assert!(env_pair("A", "x ;y").is_err());
    }
}
