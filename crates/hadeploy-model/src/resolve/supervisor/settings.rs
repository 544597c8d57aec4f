//! A program's `command` and supervisor settings: each key read and checked
//! as supervisor reads the line it writes.

use indexmap::IndexMap;

use crate::error::{Diagnostic, ErrorKind, Sink};
use crate::format::{self, SIGNALS};
use crate::model::{ProgramSettings, State};
use crate::read::{Fields, Spanned, int, string, wrong};
use crate::resolve::{check_abs_path, check_mode};
use crate::tree::{Node, NodeKind, Typed};

/// A program's supervisor settings; `None` once an invalid one is reported
/// (every key is read, so that one run reports them all).
pub(super) fn settings(f: &Fields<'_>, state: State, sink: &mut Sink) -> Option<ProgramSettings> {
    let u32_of = |key: &str, sink: &mut Sink| f.opt_int(key, 0, i64::from(u32::MAX), sink).map(|i| i as u32);
    let autorestart = autorestart(f, sink);
    let exitcodes = f.get("exitcodes").and_then(|n| exitcodes(n, sink));
    let stopsignal = stopsignal(f, sink);
    let stdout_max = size(f, "stdout_logfile_maxbytes", sink);
    let stderr_max = size(f, "stderr_logfile_maxbytes", sink);
    let umask = checked(f, "umask", sink, |s, sink| check_mode("umask", s, sink));
    let log = |key: &str, sink: &mut Sink| {
        checked(f, key, sink, |s, sink| {
            matches!(s.value.as_str(), "NONE" | "AUTO" | "syslog")
                || (check_abs_path(key, s, sink) && check_ini(key, s, sink))
        })
    };
    let stdout_logfile = log("stdout_logfile", sink);
    let stderr_logfile = log("stderr_logfile", sink);
    let directory = checked(f, "directory", sink, |s, sink| {
        check_abs_path("directory", s, sink) && check_ini("directory", s, sink)
    });
    let process_name = checked(f, "process_name", sink, |s, sink| check_ini("process_name", s, sink));
    let environment = f
        .get("environment")
        .map_or_else(|| Some(IndexMap::new()), |n| environment(n, sink));
    let autostart = f.opt_bool("autostart", sink).unwrap_or(state == State::Started);
    let numprocs = f.opt_int("numprocs", 1, 1000, sink).unwrap_or(1) as u32;
    let numprocs_start = u32_of("numprocs_start", sink);
    let priority = f.opt_int("priority", 0, i64::from(i32::MAX), sink);
    let startsecs = u32_of("startsecs", sink);
    let startretries = u32_of("startretries", sink);
    let stopwaitsecs = u32_of("stopwaitsecs", sink);
    let stopasgroup = f.opt_bool("stopasgroup", sink);
    let killasgroup = f.opt_bool("killasgroup", sink);
    let user = f.opt_str("user", sink).map(|s| s.value);
    let redirect_stderr = f.opt_bool("redirect_stderr", sink);
    let stdout_logfile_backups = u32_of("stdout_logfile_backups", sink);
    let stderr_logfile_backups = u32_of("stderr_logfile_backups", sink);
    let stdout_syslog = f.opt_bool("stdout_syslog", sink);
    let stderr_syslog = f.opt_bool("stderr_syslog", sink);
    Some(ProgramSettings {
        autostart,
        process_name: process_name?,
        numprocs,
        numprocs_start,
        priority,
        startsecs,
        startretries,
        autorestart: autorestart?,
        exitcodes,
        stopsignal: stopsignal?,
        stopwaitsecs,
        stopasgroup,
        killasgroup,
        user,
        redirect_stderr,
        stdout_logfile: stdout_logfile?,
        stdout_logfile_maxbytes: stdout_max?,
        stdout_logfile_backups,
        stdout_syslog,
        stderr_logfile: stderr_logfile?,
        stderr_logfile_maxbytes: stderr_max?,
        stderr_logfile_backups,
        stderr_syslog,
        environment: environment?,
        directory: directory?,
        umask: umask?,
    })
}

/// An optional key read: `Some(None)` when it is absent, `None` once an
/// invalid value is reported.
type Checked<T> = Option<Option<T>>;

/// The string under `key`, kept when `check` accepts it (having reported
/// why not otherwise).
fn checked(
    f: &Fields<'_>,
    key: &str,
    sink: &mut Sink,
    check: impl FnOnce(&Spanned<String>, &mut Sink) -> bool,
) -> Checked<String> {
    let Some(s) = f.opt_str(key, sink) else {
        return Some(None);
    };
    check(&s, sink).then_some(Some(s.value))
}

/// `autorestart` as supervisor reads it: `true`, `false` or `unexpected`.
/// HADeploy types it as a string: `autorestart: "true"` is read too.
fn autorestart(f: &Fields<'_>, sink: &mut Sink) -> Checked<String> {
    let Some(n) = f.get("autorestart") else {
        return Some(None);
    };
    let word = match n.as_scalar().map(|s| s.typed()) {
        Some(Typed::Bool(b)) => Some(b.to_string()),
        Some(Typed::Str(t)) => Some(t.to_ascii_lowercase()),
        Some(Typed::Int(i)) => Some(i.to_string()),
        _ => None,
    };
    match word.as_deref() {
        Some(w) if crate::format::TRUTHY.contains(&w) => Some(Some("true".to_string())),
        Some(w) if crate::format::FALSY.contains(&w) => Some(Some("false".to_string())),
        Some("unexpected") => Some(Some("unexpected".to_string())),
        _ => {
            wrong("autorestart", "yes, no or `unexpected`", n, sink);
            None
        }
    }
}

/// `stopsignal`: a signal's name without `SIG`, or its number (HADeploy
/// types it as a string: `stopsignal: 15` is read as supervisor reads it).
fn stopsignal(f: &Fields<'_>, sink: &mut Sink) -> Checked<String> {
    let Some(s) = f.opt_str("stopsignal", sink) else {
        return Some(None);
    };
    let v = s.value.trim();
    if let Ok(n) = v.parse::<u8>() {
        if (1..=64).contains(&n) {
            return Some(Some(n.to_string()));
        }
    } else {
        let upper = v.to_ascii_uppercase();
        let sig = upper.strip_prefix("SIG").unwrap_or(&upper);
        if SIGNALS.contains(&sig) {
            return Some(Some(sig.to_string()));
        }
    }
    sink.push(
        Diagnostic::invalid_value(
            "stopsignal",
            format!("`{}` is not a signal supervisor can send", s.value),
            s.span,
        )
        .help("use a signal's name (TERM, INT, QUIT, KILL, USR1...) or its number, 1 to 64"),
    );
    None
}

/// A size in bytes under `key`, optionally in KB, MB or GB.
fn size(f: &Fields<'_>, key: &str, sink: &mut Sink) -> Checked<String> {
    let Some(s) = f.opt_str(key, sink) else {
        return Some(None);
    };
    let v = s.value.to_ascii_uppercase();
    let digits = v.trim_end_matches("KB").trim_end_matches("MB").trim_end_matches("GB");
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Some(v));
    }
    sink.push(
        Diagnostic::invalid_value(key, format!("`{}` is not a size", s.value), s.span)
            .help("write a number of bytes, optionally followed by KB, MB or GB, e.g. 50MB"),
    );
    None
}

fn exitcodes(node: &Node, sink: &mut Sink) -> Option<Vec<u8>> {
    let code = |n: &Node, sink: &mut Sink| int(n, "exitcodes", 0, 255, sink).map(|i| i as u8);
    match &node.kind {
        NodeKind::Seq(items) => items.iter().map(|i| code(i, sink)).collect(),
        NodeKind::Scalar(s) if s.text.contains(',') => s
            .text
            .split(',')
            .map(|c| code(&Node::scalar(c.trim(), true, node.span), sink))
            .collect(),
        NodeKind::Scalar(_) => code(node, sink).map(|c| vec![c]),
        NodeKind::Map(_) => {
            wrong("exitcodes", "a list of exit codes", node, sink);
            None
        }
    }
}

/// HADeploy's list of `KEY=value`, or a map.
fn environment(node: &Node, sink: &mut Sink) -> Option<IndexMap<String, String>> {
    let mut env = IndexMap::new();
    let mut ok = true;
    let mut add = |key: String, value: Option<Spanned<String>>, span, sink: &mut Sink| -> bool {
        let Some(value) = value else { return false };
        if !format::is_var_name(&key) {
            sink.push(
                Diagnostic::new(
                    ErrorKind::UnsafeName {
                        what: "environment variable",
                        name: key.escape_debug().to_string(),
                        reason: "it is not a variable name".into(),
                    },
                    span,
                )
                .help("use letters, digits and `_`, not starting with a digit"),
            );
            return false;
        }
        if let Some(reason) = env_value_problem(&value.value) {
            sink.push(
                Diagnostic::invalid_value("environment", format!("the value of `{key}` {reason}"), value.span)
                .help("supervisor reads environment values between quotes, without escapes: rephrase the value, or set it from the command (`command: env K=... prog`)"),
            );
            return false;
        }
        env.insert(key, value.value);
        true
    };
    match &node.kind {
        NodeKind::Seq(items) => {
            for item in items {
                let Some(s) = string(item, "environment", sink) else {
                    ok = false;
                    continue;
                };
                match s.value.split_once('=') {
                    Some((k, v)) => {
                        ok &= add(
                            k.to_string(),
                            Some(Spanned {
                                value: unquoted_env(v).to_string(),
                                span: s.span,
                            }),
                            s.span,
                            sink,
                        )
                    }
                    None => {
                        sink.push(
                            Diagnostic::invalid_value(
                                "environment",
                                format!("`{}` is not `KEY=value`", s.value),
                                s.span,
                            )
                            .help("write each entry as `KEY=value`, or give `environment` as a map"),
                        );
                        ok = false;
                    }
                }
            }
        }
        NodeKind::Map(entries) => {
            for (k, v) in entries {
                let key = k.as_scalar().map(|s| s.text.clone()).unwrap_or_default();
                let value = string(v, &key, sink);
                ok &= add(key, value, k.span, sink);
            }
        }
        NodeKind::Scalar(_) => {
            wrong("environment", "a list of `KEY=value` or a map", node, sink);
            ok = false;
        }
    }
    ok.then_some(env)
}

/// A value written as is on one line of supervisor's INI files: its parser
/// cuts a line at a `;` or `#` after whitespace and strips whitespace from
/// both ends, so such values would arrive changed.
pub(super) fn check_ini(key: &str, v: &Spanned<String>, sink: &mut Sink) -> bool {
    let Some(reason) = crate::format::ini_value_problem(&v.value) else {
        return true;
    };
    sink.push(
        Diagnostic::invalid_value(key, reason, v.span)
            .help("remove the space before the `;` or `#`, or the space at either end"),
    );
    false
}

/// Why supervisor could not carry an environment value, if it cannot: it
/// reads `KEY="value"` with a `shlex` that knows no escapes and strips
/// quotes from both ends of the value.
/// A `KEY=value` item's value as supervisor reads it: HADeploy wrote items
/// as they are into the `environment` line (`MY_HOME="/opt/program2"`),
/// where supervisor strips one pair of quotes around a value.
fn unquoted_env(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

fn env_value_problem(v: &str) -> Option<String> {
    if v.contains('"') && v.contains('\'') {
        Some("holds both `\"` and `'`, which supervisor cannot read back".into())
    } else if v.starts_with(['"', '\'']) || v.ends_with(['"', '\'']) {
        Some("starts or ends with a quote, which supervisor strips".into())
    } else {
        crate::format::supervisor_comment_start(v)
            .map(|c| format!("holds a `{c}` after a space, which would start a comment in supervisor's configuration"))
    }
}

/// A command supervisor can split into arguments (Python's `shlex.split`):
/// quotes closed, no `\\` left escaping nothing, and not blank.
pub(super) fn check_command(c: &Spanned<String>, sink: &mut Sink) -> bool {
    let inner = c.value.trim_matches([' ', '\t']);
    let problem = if c.value.trim().is_empty() {
        Some("it is empty")
    } else if inner.trim() != inner {
        // Not a separator for the shell-like split, but dropped by the
        // configuration parser: the last argument would lose it.
        Some("it starts or ends with whitespace other than spaces, which supervisor drops")
    } else {
        // Split as supervisor reads it: its configuration parser drops the
        // spaces around the value first (`a\ ` keeps no escaped space).
        shlex_problem(inner)
    };
    let Some(reason) = problem else { return true };
    sink.push(Diagnostic::invalid_value("command", reason, c.span).help(
        "supervisor splits the command like a POSIX shell: close each quote, and write `\\\\` for a literal backslash",
    ));
    false
}

/// What Python's `shlex.split` (POSIX mode) would refuse in `s`.
fn shlex_problem(s: &str) -> Option<&'static str> {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.next().is_none() => return Some("it ends with a `\\` that escapes nothing"),
            '\'' if !chars.any(|c| c == '\'') => return Some("a `'` is not closed"),
            '"' => loop {
                match chars.next() {
                    None => return Some("a `\"` is not closed"),
                    Some('"') => break,
                    Some('\\') => {
                        if chars.next().is_none() {
                            return Some("a `\"` is not closed");
                        }
                    }
                    Some(_) => {}
                }
            },
            _ => {}
        }
    }
    None
}
