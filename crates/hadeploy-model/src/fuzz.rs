//! Entry points for fuzzing the loader and the validator. The cargo-fuzz
//! targets of `fuzz/` (nightly) and the bounded smoke test of
//! `tests/fuzz_smoke.rs` (stable, part of `cargo test`) call these same
//! functions, so an input found by one replays in the other.
//!
//! [`check_bytes`] loads any input and panics if an answer breaks a rule
//! that must hold whatever the input; [`structured`] turns arbitrary bytes
//! into a YAML description built from the format's own tables, so that
//! mutations reach deep into validation instead of stopping at syntax.

use std::fmt::Write as _;

use crate::format::{Keys, SECTIONS, SIGNALS, STATES, Ty};
use crate::{MAX_ERRORS, Model, SrcArg};

/// Where fuzz inputs are said to live: includes resolve next to it, and
/// none of the vocabulary's names exist there.
const FUZZ_PATH: &str = "/nonexistent-hadeploy-fuzz/fuzz.yml";

/// Loads `bytes` (read as UTF-8, invalid sequences replaced) as one
/// description file and checks the answer; the model when it loads.
///
/// # Panics
/// When the loader panics, or its answer breaks a rule of [`check_text`].
pub fn check_bytes(bytes: &[u8]) -> Option<Model> {
    check_text(&String::from_utf8_lossy(bytes))
}

/// Loads `text` as one description file and checks what every answer must
/// hold: errors are there, at most [`MAX_ERRORS`] shown, each placed inside
/// its source and printable; a model serializes, every scope holds known
/// hosts, every program has one process per `numprocs`, every `notify`
/// points at a program, and no web password is kept in clear.
///
/// # Panics
/// When one of these does not hold.
pub fn check_text(text: &str) -> Option<Model> {
    let srcs = [SrcArg::Text {
        path: FUZZ_PATH.into(),
        text: text.to_string(),
    }];
    match crate::load(&srcs) {
        Err(d) => {
            assert!(!d.errors.is_empty(), "a failed load reports at least one error");
            assert!(d.errors.len() <= MAX_ERRORS, "at most {MAX_ERRORS} errors are kept");
            for e in &d.errors {
                // A file that is not a description keeps no text to check against.
                if let Some(span) = e.span.filter(|s| d.sources.get(s.file).quotable) {
                    let source = d.sources.get(span.file);
                    // The parser may point just past the last line, at the end of input.
                    let lines = crate::yaml_lines(&source.text).count();
                    assert!(
                        span.line >= 1 && span.line as usize <= lines + 1 && span.col >= 1,
                        "{span:?} lies outside {} ({lines} lines): {e:?}",
                        source.path.display()
                    );
                }
            }
            let shown = d.to_string();
            assert!(shown.contains("error"), "{shown}");
            None
        }
        Ok(model) => {
            check_model(&model);
            Some(model)
        }
    }
}

fn check_model(m: &Model) {
    serde_json::to_string(m).expect("a model serializes");
    let known = |hosts: &[crate::model::HostId]| !hosts.is_empty() && hosts.iter().all(|h| h.0 < m.hosts.len());
    for g in &m.groups {
        assert!(known(&g.scope.hosts), "group {} scope {:?}", g.name, g.scope);
    }
    for u in &m.users {
        assert!(known(&u.scope.hosts), "user {} scope {:?}", u.login, u.scope);
    }
    for f in &m.folders {
        assert!(known(&f.scope.hosts) && f.path.starts_with('/'), "folder {f:?}");
    }
    for f in &m.files {
        assert!(known(&f.scope.hosts) && f.dest().starts_with('/'), "file {f:?}");
        for r in &f.notify {
            let s = m.supervisors.get(r.supervisor.0).expect("notify names a supervisor");
            let p = s.programs.get(r.program).expect("notify names a program");
            assert!(p.scope.covers(&f.scope), "{} runs where {} goes", p.name, f.dest());
        }
    }
    for s in &m.supervisors {
        assert!(known(&s.scope.hosts), "supervisor {} scope {:?}", s.name, s.scope);
        if let Some(auth) = s.http_server.as_ref().and_then(|h| h.auth.as_ref()) {
            let hex = auth.password_sha1.strip_prefix("{SHA}").unwrap_or_default();
            assert!(
                hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
                "web password kept as {:?}",
                auth.password_sha1
            );
        }
        for p in &s.programs {
            assert!(s.scope.covers(&p.scope), "program {} outside {}", p.name, s.name);
            assert_eq!(
                p.processes.len(),
                p.settings.numprocs as usize,
                "program {} processes {:?}",
                p.name,
                p.processes
            );
            assert!(p.command.is_some() || p.conf_file_src.is_some(), "program {}", p.name);
        }
    }
}

/// Arbitrary bytes read as a stream of choices.
struct Choices<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Choices<'_> {
    /// The next byte; zeros once the input is used up, which ends every loop.
    fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// A number below `n` (which must not be zero).
    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    fn pick<'v, T>(&mut self, items: &'v [T]) -> &'v T {
        &items[self.below(items.len())]
    }

    /// True about one time in `n`; never once the input is used up, so
    /// that a short input gives a plain description.
    fn one_in(&mut self, n: u8) -> bool {
        !self.done() && self.byte().is_multiple_of(n)
    }
}

/// Names the generated descriptions use, so that references resolve often.
const NAMES: &[&str] = &[
    "en1", "en2", "en3", "edges", "all", "tsupv", "sv2", "p1", "p2", "grp", "tsup", "root",
];

/// Strings that have broken configuration files before, or could.
const HOSTILE: &[&str] = &[
    "a: b",
    "it's",
    "say \"hi\"",
    "x # y",
    "x ; y",
    "50%",
    "%(program_name)s",
    "%(process_num)02d",
    "{{ x }}",
    "{% raw %}",
    "{# c",
    "${#n[@]}",
    "$HOME",
    "\\n",
    "a\\b",
    " lead",
    "trail ",
    "é ✓ \u{2028}",
    "\u{85}",
    "\t",
    "'",
    "\"",
    "",
    "-",
    "?",
    "*a",
    "&a",
    "!vault |",
    "$ANSIBLE_VAULT;1.1;AES256",
];

const PATHS: &[&str] = &[
    "/opt/app",
    "/var/log/app/out.log",
    "/etc",
    "/",
    "relative/path",
    "/opt/../etc",
    "/opt/x y",
    "/opt/%(program_name)s.log",
    "NONE",
    "AUTO",
    "syslog",
];

const SOURCES: &[&str] = &[
    "http://example.invalid/x.tgz",
    "https://example.invalid/a?b#c",
    "file://missing.txt",
    "tmpl://missing.j2",
    "file:///etc/hostname",
    "ftp://x",
];

/// Decodes `bytes` into a YAML description: sections, items and keys from
/// [`crate::format`], values of each key's type drawn from a vocabulary of
/// names that resolve, strings that are hard to quote, variables, anchors
/// and aliases, with a few deliberate mistakes. Every input gives a
/// description; the same input always gives the same one.
pub fn structured(bytes: &[u8]) -> String {
    let mut c = Choices { bytes, pos: 0 };
    let mut out = String::new();
    if !c.one_in(16) {
        out.push_str("hosts:\n- name: en1\n- name: en2\n  ssh_host: 10.0.0.2\n- name: en3\n");
        out.push_str("host_groups:\n- name: edges\n  hosts: [en1, en2]\n");
    }
    if !c.one_in(8) {
        out.push_str("vars:\n  v0: x\n  v1: '{{ y }}'\n  v2: { a: /opt, b: [1, 2] }\n");
    }
    let mut sections = 0;
    while !c.done() && sections < 16 {
        sections += 1;
        let section = c.pick(SECTIONS);
        let _ = writeln!(out, "{}:", section.name);
        value(&mut c, section.ty, 1, &mut out);
    }
    out
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Writes a value of type `ty`, after `key:` and a line break, at `depth`.
fn value(c: &mut Choices<'_>, ty: Ty, depth: usize, out: &mut String) {
    match ty {
        Ty::Items(keys) => {
            let n = 1 + c.below(3);
            for _ in 0..n {
                indent(out, depth - 1);
                out.push_str("- ");
                map(c, keys, depth, out);
            }
        }
        Ty::Map(keys) => {
            indent(out, depth);
            map(c, keys, depth, out);
        }
        Ty::Vault => {
            for i in 0..1 + c.below(2) {
                indent(out, depth);
                let _ = write!(out, "s{i}: ");
                match c.below(4) {
                    0 => scalar(c, Ty::Str, out),
                    1 => out.push_str("\"$ANSIBLE_VAULT;1.1;AES256\\n6162\""),
                    _ => {
                        out.push_str("!vault |\n");
                        for line in ["$ANSIBLE_VAULT;1.1;AES256", "6162636465", "3031"] {
                            indent(out, depth + 1);
                            out.push_str(line);
                            out.push('\n');
                        }
                        continue;
                    }
                }
                out.push('\n');
            }
        }
        Ty::Vars => {
            let n = 1 + c.below(3);
            for i in 0..n {
                indent(out, depth);
                let _ = write!(out, "v{}:", 3 + i);
                if c.one_in(4) {
                    out.push('\n');
                    value(c, Ty::Environment, depth + 1, out);
                } else {
                    out.push(' ');
                    scalar(c, ty, out);
                    out.push('\n');
                }
            }
        }
        Ty::StrList | Ty::ExitCodes | Ty::Environment if c.one_in(2) => {
            let n = c.below(4);
            for _ in 0..n {
                indent(out, depth);
                out.push_str("- ");
                scalar(c, ty, out);
                out.push('\n');
            }
            if n == 0 {
                indent(out, depth);
                out.push_str("[]\n");
            }
        }
        Ty::Environment => {
            for i in 0..1 + c.below(3) {
                indent(out, depth);
                let _ = write!(out, "K{i}: ");
                scalar(c, Ty::Str, out);
                out.push('\n');
            }
        }
        _ => {
            indent(out, depth);
            scalar(c, ty, out);
            out.push('\n');
        }
    }
}

/// Writes the keys of one map; the first key follows what is already on the line.
fn map(c: &mut Choices<'_>, keys: &Keys, depth: usize, out: &mut String) {
    let mut first = true;
    let mut written = 0;
    for key in keys.iter() {
        // Required keys nearly always, others now and then; a few misspelled.
        let keep = if key.required { !c.one_in(16) } else { c.one_in(3) };
        if !keep {
            continue;
        }
        if !first {
            indent(out, depth);
        }
        first = false;
        written += 1;
        if c.one_in(64) {
            let _ = write!(out, "{}x:", key.name);
        } else {
            let _ = write!(out, "{}:", key.name);
        }
        match key.ty {
            Ty::Map(_) | Ty::Items(_) | Ty::Vars | Ty::Vault => {
                out.push('\n');
                value(c, key.ty, depth + 1, out);
            }
            Ty::StrList | Ty::ExitCodes | Ty::Environment => {
                out.push('\n');
                value(c, key.ty, depth + 1, out);
            }
            ty => {
                out.push(' ');
                if c.one_in(32) {
                    let _ = write!(out, "&a{} ", c.below(3));
                }
                scalar(c, ty, out);
                out.push('\n');
            }
        }
    }
    if written == 0 {
        out.push_str("{}\n");
    }
}

/// One scalar of type `ty`, quoted as the choices say.
fn scalar(c: &mut Choices<'_>, ty: Ty, out: &mut String) {
    let text: String = match if c.done() { 255 } else { c.below(64) } {
        // A wrong kind of value, now and then.
        0 => c.pick(HOSTILE).to_string(),
        1 => format!("${{v{}}}", c.below(6)),
        2 => format!("<<v2.{}>>", c.pick(&["a", "b", "c"])),
        3 => c
            .pick(&["yes", "no", "~", "", "12", "-1", "99999999999999999999", "1e3"])
            .to_string(),
        4 => {
            out.push_str(&format!("*a{}", c.below(3)));
            return;
        }
        _ => match ty {
            Ty::Str | Ty::StrList => match c.below(6) {
                0 => c.pick(PATHS).to_string(),
                1 => c.pick(SOURCES).to_string(),
                2 => format!("{}:{}", c.pick(NAMES), c.pick(NAMES)),
                3 => format!("supervisor://{}/{}", c.pick(NAMES), c.pick(NAMES)),
                4 => {
                    let mut s = String::new();
                    for _ in 0..1 + c.below(4) {
                        let piece = c.pick::<&str>(HOSTILE);
                        s.push_str(piece);
                    }
                    s
                }
                _ => c.pick(NAMES).to_string(),
            },
            Ty::LocalPath => c.pick(&["keys/id", "/etc/hostname", "inv.ini", ""]).to_string(),
            Ty::Bool => c.pick(&["yes", "no", "true", "off", "'yes'", "maybe"]).to_string(),
            Ty::Int { min, max } => match c.below(4) {
                0 => min.to_string(),
                1 => max.to_string(),
                2 => min.saturating_sub(1).to_string(),
                _ => c.below(10).to_string(),
            },
            Ty::Word(words) => c.pick(words).to_string(),
            Ty::Signal => c.pick(SIGNALS).to_string(),
            Ty::Mode => c.pick(&["0755", "\"0640\"", "755", "0999", "rwx"]).to_string(),
            Ty::Size => c.pick(&["50MB", "1KB", "0", "10XB"]).to_string(),
            Ty::Autorestart => c.pick(&["yes", "no", "unexpected", "sometimes"]).to_string(),
            Ty::ExitCodes => c.pick(&["0", "0,2", "256", "x"]).to_string(),
            Ty::Environment => format!("{}={}", c.pick(&["A", "B_1", "1X", "PATH"]), c.pick(HOSTILE)),
            Ty::Vars | Ty::Vault | Ty::Map(_) | Ty::Items(_) => c.pick(STATES).to_string(),
        },
    };
    quote(c, &text, out);
}

/// Writes `text` plain when the choices say so and YAML would read it back,
/// else single- or double-quoted.
fn quote(c: &mut Choices<'_>, text: &str, out: &mut String) {
    let plain_ok = !text.is_empty()
        && !text.starts_with(|ch: char| " -?:,[]{}#&*!|>'\"%@`\\".contains(ch))
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && text
            .chars()
            .all(|ch| !ch.is_control() && ch != '\u{85}' && ch != '\u{2028}');
    match c.below(3) {
        0 if plain_ok => out.push_str(text),
        1 if !text.contains(|ch: char| ch.is_control()) => {
            out.push('\'');
            out.push_str(&text.replace('\'', "''"));
            out.push('\'');
        }
        _ => {
            out.push('"');
            for ch in text.chars() {
                match ch {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    ch if ch.is_control() || ch == '\u{2028}' => {
                        let _ = write!(out, "\\u{:04X}", u32::from(ch));
                    }
                    ch => out.push(ch),
                }
            }
            out.push('"');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_input_is_deterministic_and_often_loads() {
        assert_eq!(structured(b"abc"), structured(b"abc"));
        let loaded = (0u32..256)
            .filter(|i| {
                let bytes: Vec<u8> = (0..12u32)
                    .map(|j| (i.wrapping_mul(2654435761) >> (j * 2)) as u8)
                    .collect();
                check_text(&structured(&bytes)).is_some()
            })
            .count();
        // Most mutate into an error, which is the point; but not all.
        assert!(loaded > 0, "no structured input loads: the generator stops at syntax");
    }
}
