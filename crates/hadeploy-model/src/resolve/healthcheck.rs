//! A program's `healthcheck` and the top-level `rolling`: what a rolling
//! deploy waits for on each batch of hosts.

use crate::error::{Diagnostic, ErrorKind, Sink};
use crate::format;
use crate::model::{Batch, HealthCheck, Probe};
use crate::read::{Fields, Spanned};
use crate::tree::Node;

/// Seconds a health check may take to pass when `timeout` is not given.
pub const DEFAULT_TIMEOUT: u32 = 30;

/// Words a shell reads as operators: without a shell they would reach the
/// command as arguments, and the check would not do what it says.
const SHELL_OPERATORS: &[&str] = &[
    "|", "||", "&", "&&", ";", ";;", "<", ">", ">>", "<<", "<<<", ">&", "<&", "2>", "2>>", "2>&1", "&>", "(", ")", "!",
];

/// A program's `healthcheck`; `None` once what is wrong is reported.
pub(super) fn healthcheck(node: &Node, sink: &mut Sink) -> Option<HealthCheck> {
    let f = Fields::new(node, &format::HEALTHCHECK, sink)?;
    let timeout = f.opt_int("timeout", 1, 3600, sink);
    let bad_timeout = timeout.is_none() && f.get("timeout").is_some();
    let http = f.opt_str("http", sink);
    let command = f.opt_str("command", sink);
    let probe = match (http, command) {
        (Some(_), Some(c)) => {
            sink.push(
                Diagnostic::new(
                    ErrorKind::Conflict("a `healthcheck` has both `http` and `command`".into()),
                    c.span,
                )
                .help("keep one: a health check tries one probe"),
            );
            return None;
        }
        (Some(u), None) => Probe::Http(http_url(&u, sink)?),
        (None, Some(c)) => Probe::Command(command_words(&c, sink)?),
        (None, None) => {
            if f.get("http").is_none() && f.get("command").is_none() {
                sink.push(
                    Diagnostic::new(
                        ErrorKind::MissingKey {
                            key: "http",
                            what: f.what.clone(),
                        },
                        f.span,
                    )
                    .help("give `http: http://127.0.0.1:PORT/PATH` or `command: /path/to/check ARGS`"),
                );
            }
            return None;
        }
    };
    if bad_timeout {
        return None;
    }
    Some(HealthCheck {
        probe,
        timeout: timeout.map_or(DEFAULT_TIMEOUT, |t| t as u32),
    })
}

/// An `http` probe's URL, normalised (percent-encoded) as it is requested.
fn http_url(u: &Spanned<String>, sink: &mut Sink) -> Option<String> {
    let raw = &u.value;
    let problem = if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "it holds whitespace or a control character: write a space as `%20`".to_string()
    } else {
        match url::Url::parse(raw) {
            Err(e) => format!("it is not a URL ({e})"),
            Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                format!(
                    "its scheme is `{}`: a health check asks over http or https",
                    url.scheme()
                )
            }
            Ok(url) if !url.username().is_empty() || url.password().is_some() => {
                // Every failure message and log shows the URL.
                "it holds credentials, which every report of the check would show".to_string()
            }
            Ok(url) => return Some(url.to_string()),
        }
    };
    sink.push(Diagnostic::invalid_value("http", problem, u.span).help(
        "the check runs on the host itself: write e.g. `http://127.0.0.1:8080/health`, answered with a 2xx status",
    ));
    None
}

/// A `command` probe's words, split as a POSIX shell splits them; it runs
/// without a shell, so what only a shell understands is refused.
fn command_words(c: &Spanned<String>, sink: &mut Sink) -> Option<Vec<String>> {
    let words = shlex::split(&c.value);
    let problem = match &words {
        None => Some("a quote is not closed, or it ends with a lone `\\`".to_string()),
        Some(w) if w.is_empty() => Some("it is empty".to_string()),
        Some(w) => {
            if let Some(op) = w.iter().find(|a| SHELL_OPERATORS.contains(&a.as_str())) {
                Some(format!(
                    "`{op}` is a shell operator, but the check runs without a shell"
                ))
            } else if let Some(a) = w.iter().find(|a| a.contains('$') || a.contains('`')) {
                Some(format!("`{a}`: no shell expands `$` or backquotes here"))
            } else if w[0].contains('/') && !w[0].starts_with('/') {
                Some(format!("`{}` is a relative path: the check runs in `/`", w[0]))
            } else {
                None
            }
        }
    };
    if let Some(reason) = problem {
        sink.push(Diagnostic::invalid_value("command", reason, c.span).help(
            "the check runs on the host as the supervisor's user, without a shell, and passes when it exits 0: \
             name a program and its arguments, or put a pipeline in a script and name the script",
        ));
        return None;
    }
    words
}

/// The top-level `rolling`; `None` when absent or once what is wrong is reported.
pub(super) fn rolling(node: &Node, sink: &mut Sink) -> Option<Batch> {
    let f = Fields::new(node, &format::ROLLING, sink)?;
    let batch = f.req_str("batch", sink)?;
    // `batch: 2` is read as the string "2", as every string is.
    match Batch::parse(&batch.value) {
        Ok(b) => Some(b),
        Err(reason) => {
            sink.push(Diagnostic::invalid_value("batch", reason, batch.span).help(
                "give a number of hosts (`batch: 1`) or a percentage of them (`batch: 25%`), deployed at a time",
            ));
            None
        }
    }
}
