//! `supervisors`, `supervisor_programs` and `supervisor_groups`: instances with
//! their layout, programs with their settings and process names, groups, and
//! the `notify` references that point at programs.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use super::{Cx, check_abs_path, check_name};
use crate::error::{Diagnostic, ErrorKind, Sink};
use crate::format::{self, SIGNALS, STATES};
use crate::model::{
    HealthCheck, HttpAuth, HttpServer, LocalSource, Program, ProgramGroup, ProgramId, ProgramSettings, Scope, State,
    Supervisor, SupervisorId,
};
use crate::read::{Fields, Spanned, int, section_items, string, wrong};
use crate::span::Span;
use crate::tree::{Node, NodeKind, Typed};

/// Process name used when `numprocs` > 1 and none is given.
pub const DEFAULT_MULTI_PROCESS_NAME: &str = "%(program_name)s_%(process_num)02d";

fn state(f: &Fields<'_>, sink: &mut Sink) -> State {
    f.opt_choice("state", STATES, sink)
        .and_then(|s| State::from_word(&s.value))
        .unwrap_or(State::Started)
}

pub(super) fn build(root: &[(Node, Node)], cx: &mut Cx<'_>, sink: &mut Sink) -> Vec<Supervisor> {
    let mut sups: Vec<Supervisor> = Vec::new();
    let mut names: IndexMap<String, u32> = IndexMap::new();
    for item in section_items(root, "supervisors", sink) {
        let Some(f) = Fields::new(item, &format::SUPERVISOR, sink) else {
            continue;
        };
        if let Some(name) = f.get("name").and_then(|n| n.as_scalar()) {
            cx.declared_supervisors.insert(name.text.clone());
        }
        if let Some(s) = supervisor(&f, cx, sink) {
            if let Some(line) = names.get(&s.0.value) {
                sink.push(Diagnostic::duplicate("supervisor", s.0.value, s.0.span).help(format!(
                    "it is first defined at line {line}; supervisor names are unique on every host"
                )));
                continue;
            }
            names.insert(s.0.value.clone(), s.0.span.line);
            sups.push(s.1);
        }
    }
    // Read: each program as its item describes it, then the groups they
    // form; resolve: each program built once, with its group and the names
    // of its processes.
    let index = SupervisorIndex::new(&sups, |_| Vec::new());
    let drafts = programs(root, cx, &index, &sups, sink);
    let index = SupervisorIndex::new(&sups, |si| drafts[si].iter().map(|d| d.name.clone()).collect());
    let groups = groups(root, cx, &index, &sups, &drafts, sink);
    for ((sup, drafts), groups) in sups.iter_mut().zip(drafts).zip(groups) {
        sup.programs = finish_programs(drafts, &groups, sink);
        sup.groups = groups;
    }
    sups
}

/// A program as its item describes it: a [`Program`] once its group and the
/// names of its processes are known.
struct Draft {
    name: String,
    scope: Scope,
    command: Option<String>,
    conf_file_src: Option<LocalSource>,
    state: State,
    no_remove: bool,
    settings: ProgramSettings,
    healthcheck: Option<HealthCheck>,
    /// Where the names of its processes come from: its `process_name`, or its name.
    names_span: Span,
}

fn supervisor(f: &Fields<'_>, cx: &Cx<'_>, sink: &mut Sink) -> Option<(Spanned<String>, Supervisor)> {
    let name = f.req_str("name", sink);
    let scope_expr = f.req_str("scope", sink);
    let user = f.req_str("user", sink);
    let group = f.req_str("group", sink);
    let managed = f.bool_or("managed", true, sink);
    let enabled = f.bool_or("enabled", true, sink);
    let state = state(f, sink);
    let no_remove = f.bool_or("no_remove", false, sink);
    let conf_file_src = f
        .opt_str("conf_file_src", sink)
        .and_then(|s| cx.local_source(&s, "conf_file_src", sink));
    let http = f
        .get("http_server")
        .and_then(|n| http_server(n, user.as_ref().map(|u| u.value.as_str()), sink));
    let scope = scope_expr.and_then(|e| cx.inv.scope(&e, sink));
    let name = name?;
    let name_ok = check_name("supervisor name", &name, sink);
    let (scope, user, group) = (scope?, user?, group?);
    let users_ok = super::check_account_name("user", &user, sink) & super::check_account_name("group", &group, sink);
    let n = &name.value;
    // Paths written in supervisord.conf; the configuration file's and the
    // runtime folders' are also written in the systemd unit and the wrapper.
    let mut path = |key: &str, default: String| match f.opt_str(key, sink) {
        Some(p) => {
            let in_unit = matches!(key, "conf_file_dst" | "pid_dir" | "socks_dir");
            // Written normalised, without its trailing slashes: `/a /` is `/a `.
            let written = Spanned {
                value: crate::system::normal_path(&p.value).into_owned(),
                span: p.span,
            };
            (check_abs_path(key, &p, sink)
                && check_ini(key, &written, sink)
                && (!in_unit || check_unit_word(key, &p, sink))
                && check_not_system(key, &p, managed, sink))
            .then_some(written.value)
        }
        None => Some(default),
    };
    let conf_file_dst = path("conf_file_dst", format!("/etc/supervisord_{n}.conf"));
    let include_dir = path("include_dir", format!("/etc/supervisord_{n}.d"));
    let logs_dir = path("logs_dir", format!("/var/log/supervisor_{n}"));
    let pid_dir = path("pid_dir", format!("/var/run/supervisor_{n}"));
    let socks_dir = path("socks_dir", format!("/var/run/supervisor_{n}"));
    let supervisorctl = path("supervisorctl", format!("/usr/bin/supervisorctl_{n}"));
    if !(name_ok && users_ok) {
        return None;
    }
    let (pid_dir, socks_dir) = (pid_dir?, socks_dir?);
    let s = Supervisor {
        name: n.clone(),
        scope,
        user: user.value,
        group: group.value,
        managed,
        enabled,
        state,
        no_remove,
        http_server: http.flatten(),
        conf_file_src,
        conf_file_dst: conf_file_dst?,
        include_dir: include_dir?,
        logs_dir: logs_dir?,
        unit: format!("supervisord_{n}.service"),
        socket: format!("{socks_dir}/supervisor.sock"),
        pid_file: format!("{pid_dir}/supervisord.pid"),
        pid_dir,
        socks_dir,
        supervisorctl: supervisorctl?,
        programs: Vec::new(),
        groups: Vec::new(),
    };
    Some((name, s))
}

/// `Some(None)` when the block is valid but asks for nothing; `None` on error.
fn http_server(node: &Node, user: Option<&str>, sink: &mut Sink) -> Option<Option<HttpServer>> {
    let f = Fields::new(node, &format::HTTP_SERVER, sink)?;
    let endpoint = f.opt_str("endpoint", sink).unwrap_or(Spanned {
        value: "127.0.0.1:9001".into(),
        span: f.span,
    });
    let username = f.opt_str("username", sink);
    let password = f.opt_str("password", sink);
    let unauthenticated = f.opt_bool("unauthenticated", sink);
    if let Some(u) = &username
        && !check_ini("username", u, sink)
    {
        return None;
    }
    let port_ok = endpoint.value.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*'))
            && port.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if !port_ok {
        sink.push(
            Diagnostic::invalid_value(
                "endpoint",
                format!("`{}` is not `HOST:PORT`", endpoint.value),
                endpoint.span,
            )
            .help("write e.g. `127.0.0.1:9001`, or `0.0.0.0:9001` to listen on every interface"),
        );
        return None;
    }
    let auth = match (username, password) {
        (None, None) if unauthenticated != Some(true) && !format::endpoint_is_loopback(&endpoint.value) => {
            sink.push(
                Diagnostic::invalid_value(
                    "http_server",
                    format!(
                        "the web interface on `{}` would let anyone who reaches the host stop, start and read its programs",
                        endpoint.value
                    ),
                    endpoint.span,
                )
                .help("give a `password` (and a `username`), listen on `127.0.0.1`, or say `unauthenticated: yes` to open it on purpose"),
            );
            return None;
        }
        (None, None) => None,
        (Some(u), None) => {
            sink.push(
                Diagnostic::new(
                    ErrorKind::Conflict(format!("`http_server` names user `{}` but gives no `password`", u.value)),
                    u.span,
                )
                .help("add a `password` (clear, or `{SHA}` and its SHA-1 in hex), or remove `username` to open the interface without login"),
            );
            return None;
        }
        (u, Some(p)) => {
            let username = u.map(|u| u.value).or_else(|| user.map(str::to_string))?;
            let password_sha1 = match p.value.strip_prefix("{SHA}") {
                Some(hex) if hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    format!("{{SHA}}{}", hex.to_ascii_lowercase())
                }
                Some(_) => {
                    sink.push(
                        Diagnostic::invalid_value("password", "`{SHA}` must be followed by 40 hex digits", p.span)
                        .help("compute it with `printf %s PASSWORD | sha1sum`, or give the password in clear to have it hashed"),
                    );
                    return None;
                }
                None => format!("{{SHA}}{}", sha1_smol::Sha1::from(p.value.as_bytes()).digest()),
            };
            if username.contains(':') || username.is_empty() {
                sink.push(
                    Diagnostic::invalid_value(
                        "username",
                        format!("`{username}` cannot be used in HTTP basic authentication"),
                        f.span,
                    )
                    .help("use a user name without `:`"),
                );
                return None;
            }
            Some(HttpAuth {
                username,
                password_sha1,
            })
        }
    };
    if unauthenticated == Some(true) && auth.is_some() {
        sink.push(
            Diagnostic::new(
                ErrorKind::Conflict("`http_server` gives credentials and says `unauthenticated: yes`".into()),
                f.span,
            )
            .help("remove `unauthenticated`, or the credentials"),
        );
        return None;
    }
    Some(Some(HttpServer {
        endpoint: endpoint.value,
        auth,
        unauthenticated: unauthenticated == Some(true),
    }))
}

/// Supervisors by name, and each one's programs by name, so that
/// references resolve in constant time however many there are.
pub(super) struct SupervisorIndex {
    supervisors: HashMap<String, usize>,
    programs: Vec<HashMap<String, usize>>,
}

impl SupervisorIndex {
    /// The supervisors `sups`, each with the programs `names` gives it.
    fn new(sups: &[Supervisor], names: impl Fn(usize) -> Vec<String>) -> Self {
        SupervisorIndex {
            supervisors: sups.iter().enumerate().map(|(i, s)| (s.name.clone(), i)).collect(),
            programs: (0..sups.len())
                .map(|si| names(si).into_iter().enumerate().map(|(i, n)| (n, i)).collect())
                .collect(),
        }
    }

    /// The supervisors `sups` and their programs.
    pub(super) fn of(sups: &[Supervisor]) -> Self {
        Self::new(sups, |si| sups[si].programs.iter().map(|p| p.name.clone()).collect())
    }

    fn program(&self, supervisor: usize, name: &str) -> Option<usize> {
        self.programs[supervisor].get(name).copied()
    }
}

fn find_supervisor<'a>(
    cx: &Cx<'_>,
    index: &SupervisorIndex,
    sups: &'a [Supervisor],
    name: &Spanned<String>,
    sink: &mut Sink,
) -> Option<(usize, &'a Supervisor)> {
    match index.supervisors.get(&name.value) {
        Some(&i) => Some((i, &sups[i])),
        // Described but invalid: its own errors say why; don't add another.
        None if cx.declared_supervisors.contains(&name.value) => None,
        None => {
            let help = sink
                .did_you_mean(&name.value, sups.iter().map(|s| s.name.as_str()))
                .unwrap_or_else(|| {
                    "describe it in `supervisors:` (with `managed: no` if another description installs it)".into()
                });
            sink.push(Diagnostic::new(ErrorKind::UnknownSupervisor(name.value.clone()), name.span).help(help));
            None
        }
    }
}

/// Reads the programs of each supervisor, as their items describe them.
fn programs(
    root: &[(Node, Node)],
    cx: &Cx<'_>,
    index: &SupervisorIndex,
    sups: &[Supervisor],
    sink: &mut Sink,
) -> Vec<Vec<Draft>> {
    let mut drafts: Vec<Vec<Draft>> = sups.iter().map(|_| Vec::new()).collect();
    let mut names: Vec<HashSet<String>> = vec![HashSet::new(); sups.len()];
    for item in section_items(root, "supervisor_programs", sink) {
        let Some(f) = Fields::new(item, &format::PROGRAM, sink) else {
            continue;
        };
        let Some((si, name, draft)) = read_program(&f, cx, index, sups, sink) else {
            continue;
        };
        let sup = &sups[si];
        if !check_program(&f, &name, &draft, sup, cx, sink) {
            continue;
        }
        if names[si].contains(&name.value) {
            sink.push(
                Diagnostic::duplicate("program", name.value, name.span)
                    .help(format!("program names are unique within supervisor `{}`", sup.name)),
            );
            continue;
        }
        // Each process is a placement on each host, beyond the program's own.
        let processes = (draft.settings.numprocs as usize).saturating_sub(1) * draft.scope.hosts.len();
        if !cx.inv.place(processes, name.span, sink) {
            continue;
        }
        names[si].insert(name.value);
        drafts[si].push(draft);
    }
    drafts
}

/// A `supervisor_programs` item: the position of its supervisor, its name,
/// and the program it describes; `None` once what is wrong is reported.
fn read_program(
    f: &Fields<'_>,
    cx: &Cx<'_>,
    index: &SupervisorIndex,
    sups: &[Supervisor],
    sink: &mut Sink,
) -> Option<(usize, Spanned<String>, Draft)> {
    let name = f.req_str("name", sink);
    let sup_name = f.req_str("supervisor", sink);
    let command = f.opt_str("command", sink).filter(|c| check_command(c, sink));
    let conf_file_src = f
        .opt_str("conf_file_src", sink)
        .and_then(|s| cx.local_source(&s, "conf_file_src", sink));
    let state = state(f, sink);
    let no_remove = f.bool_or("no_remove", false, sink);
    let settings = settings(f, state, sink);
    let healthcheck = f.get("healthcheck").map(|n| super::healthcheck::healthcheck(n, sink));
    let (Some(name), Some(sup_name)) = (name, sup_name) else {
        return None;
    };
    if !check_name("program name", &name, sink) {
        return None;
    }
    let (si, sup) = find_supervisor(cx, index, sups, &sup_name, sink)?;
    let scope = cx.scope(f, Some(&sup.scope), sink)?;
    if command.is_none() && conf_file_src.is_none() && f.get("command").is_none() && f.get("conf_file_src").is_none() {
        sink.push(
            Diagnostic::new(
                ErrorKind::MissingKey {
                    key: "command",
                    what: format!("program `{}`", name.value),
                },
                f.span,
            )
            .help("give the `command` to run, or a `conf_file_src` template holding the whole program section"),
        );
        return None;
    }
    let settings = settings?;
    let healthcheck = match healthcheck {
        None => None,
        Some(h) => Some(h?),
    };
    // An invalid `command` or `conf_file_src` was reported where it was read.
    if command.is_none() && conf_file_src.is_none() {
        return None;
    }
    let draft = Draft {
        names_span: f.get("process_name").map_or(name.span, |n| n.span),
        name: name.value.clone(),
        scope,
        command: command.map(|c| c.value),
        conf_file_src,
        state,
        no_remove,
        settings,
        healthcheck,
    };
    Some((si, name, draft))
}

/// Whether the program `d` (named `name`, described by `f`) may run in
/// its supervisor `sup`: within its hosts, as its user. A `no_remove`
/// the supervisor does not share is reported too, without refusing it.
fn check_program(
    f: &Fields<'_>,
    name: &Spanned<String>,
    d: &Draft,
    sup: &Supervisor,
    cx: &Cx<'_>,
    sink: &mut Sink,
) -> bool {
    if !sup.scope.covers(&d.scope) {
        let outside = cx
            .inv
            .host_names(d.scope.hosts.iter().copied().filter(|h| !sup.scope.hosts.contains(h)));
        sink.push(
            Diagnostic::new(
                ErrorKind::Conflict(format!(
                    "program `{}` is scoped to {} where supervisor `{}` does not run",
                    name.value, outside, sup.name
                )),
                f.get("scope").map_or(f.span, |n| n.span),
            )
            .help(format!(
                "scope the program within `{}`, the supervisor's scope",
                sup.scope.expr
            )),
        );
        return false;
    }
    if let Some(u) = &d.settings.user
        && *u != sup.user
    {
        sink.push(
            Diagnostic::new(
                ErrorKind::Conflict(format!(
                    "program `{}` asks to run as `{u}`, but supervisor `{}` runs as `{}` and cannot switch user",
                    name.value, sup.name, sup.user
                )),
                f.get("user").map_or(f.span, |n| n.span),
            )
            .help(format!("remove `user`, or set it to `{}`", sup.user)),
        );
        return false;
    }
    if d.no_remove && !sup.no_remove {
        sink.push(
            Diagnostic::new(
                ErrorKind::Conflict(format!(
                    "program `{}` has `no_remove: yes` but its supervisor `{}` does not",
                    name.value, sup.name
                )),
                name.span,
            )
            .help(format!(
                "removing supervisor `{}` would take the program with it: set `no_remove: yes` on the supervisor too, or remove it here",
                sup.name
            )),
        );
    }
    true
}

/// A program's supervisor settings; `None` once an invalid one is reported
/// (every key is read, so that one run reports them all).
fn settings(f: &Fields<'_>, state: State, sink: &mut Sink) -> Option<ProgramSettings> {
    let u32_of = |key: &str, sink: &mut Sink| f.opt_int(key, 0, i64::from(u32::MAX), sink).map(|i| i as u32);
    let autorestart = autorestart(f, sink);
    let exitcodes = f.get("exitcodes").and_then(|n| exitcodes(n, sink));
    let stopsignal = stopsignal(f, sink);
    let stdout_max = size(f, "stdout_logfile_maxbytes", sink);
    let stderr_max = size(f, "stderr_logfile_maxbytes", sink);
    let umask = checked(f, "umask", sink, |s, sink| super::check_mode("umask", s, sink));
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
        stderr_logfile: stderr_logfile?,
        stderr_logfile_maxbytes: stderr_max?,
        stderr_logfile_backups,
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

/// A path of an instance: never `/`, and for a managed one (which owns
/// the path and whose `remove` deletes it) none of the system's
/// ([`is_system_path`](crate::system::is_system_path)).
fn check_not_system(key: &str, v: &Spanned<String>, managed: bool, sink: &mut Sink) -> bool {
    let p = crate::system::normal_path(&v.value);
    let system = managed && crate::system::is_system_path(&p);
    if !(p == "/" || system) {
        return true;
    }
    sink.push(
        Diagnostic::invalid_value(
            key,
            format!(
                "`{}` is a system folder: an instance cannot own it, nor remove it",
                v.value
            ),
            v.span,
        )
        .help(format!(
            "give the instance a folder of its own, e.g. `{}/myapp`",
            if p == "/" { "/opt" } else { &p }
        )),
    );
    false
}

/// A path written unquoted in the systemd unit and the `supervisorctl`
/// wrapper script.
fn check_unit_word(key: &str, v: &Spanned<String>, sink: &mut Sink) -> bool {
    let Some(c) = v
        .value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.@/+:-".contains(*c)))
    else {
        return true;
    };
    sink.push(
        Diagnostic::invalid_value(
            key,
            format!(
                "`{}` holds {c:?}, which a systemd unit or a shell script would misread",
                v.value
            ),
            v.span,
        )
        .help("use letters, digits and `_.@/+:-` in supervisor paths"),
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
fn check_command(c: &Spanned<String>, sink: &mut Sink) -> bool {
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

/// The groups of each supervisor's programs (their positions in `drafts`).
fn groups(
    root: &[(Node, Node)],
    cx: &Cx<'_>,
    index: &SupervisorIndex,
    sups: &[Supervisor],
    drafts: &[Vec<Draft>],
    sink: &mut Sink,
) -> Vec<Vec<ProgramGroup>> {
    let mut out: Vec<Vec<ProgramGroup>> = sups.iter().map(|_| Vec::new()).collect();
    // The group of each program, once it has one.
    let mut group_of: Vec<HashMap<usize, String>> = sups.iter().map(|_| HashMap::new()).collect();
    let mut group_names: Vec<HashSet<String>> = vec![HashSet::new(); sups.len()];
    // Groups named like a program: fine unless that program ends up in no
    // group, known once every group is read.
    let mut named_like_programs: Vec<(usize, usize, Spanned<String>)> = Vec::new();
    for item in section_items(root, "supervisor_groups", sink) {
        let Some(f) = Fields::new(item, &format::PROGRAM_GROUP, sink) else {
            continue;
        };
        let name = f.req_str("name", sink);
        let sup_name = f.req_str("supervisor", sink);
        let programs = f.str_list("programs", sink);
        let priority = f.opt_int("priority", 0, i64::from(i32::MAX), sink);
        let no_remove = f.bool_or("no_remove", false, sink);
        // HADeploy's schema accepts a group's `scope`: it must be where its programs run.
        let given_scope = f.opt_str("scope", sink).map(|e| (cx.inv.scope(&e, sink), e));
        let (Some(name), Some(sup_name)) = (name, sup_name) else {
            continue;
        };
        if !check_name("group name", &name, sink) {
            continue;
        }
        let Some((si, sup)) = find_supervisor(cx, index, sups, &sup_name, sink) else {
            continue;
        };
        if programs.is_empty() {
            sink.push(
                Diagnostic::new(
                    ErrorKind::MissingKey {
                        key: "programs",
                        what: format!("group `{}`", name.value),
                    },
                    f.span,
                )
                .help("list the names of the programs this group holds"),
            );
            continue;
        }
        if group_names[si].contains(&name.value) {
            sink.push(
                Diagnostic::duplicate("group name", name.value, name.span)
                    .help(format!("supervisor `{}` already has a group of that name", sup.name)),
            );
            continue;
        }
        if no_remove && !sup.no_remove {
            sink.push(
                Diagnostic::new(
                    ErrorKind::Conflict(format!(
                        "group `{}` has `no_remove: yes` but its supervisor `{}` does not",
                        name.value, sup.name
                    )),
                    name.span,
                )
                .help("set `no_remove: yes` on the supervisor too, or remove it here"),
            );
            continue;
        }
        let Some((member_indices, scope)) = members(&programs, si, sup, &drafts[si], &group_of[si], index, cx, sink)
        else {
            continue;
        };
        if let Some((given, expr)) = given_scope
            && !check_group_scope(cx, &name, given.as_ref(), &expr, &scope, sink)
        {
            continue;
        }
        for &i in &member_indices {
            group_of[si].insert(i, name.value.clone());
        }
        if let Some(pi) = index.program(si, &name.value) {
            named_like_programs.push((si, pi, name.clone()));
        }
        group_names[si].insert(name.value.clone());
        out[si].push(ProgramGroup {
            name: name.value,
            programs: member_indices,
            priority,
            scope,
            no_remove,
        });
    }
    // supervisord names its process groups after groups and after the
    // programs in none: a group may share its name with a program of its
    // own (or of another group), not with one that stands alone.
    for (si, pi, name) in named_like_programs {
        if !group_of[si].contains_key(&pi) {
            sink.push(
                Diagnostic::duplicate("program or group name", name.value, name.span).help(format!(
                    "supervisor `{}` runs a program of that name in no group: supervisord would see two process groups of one name",
                    sups[si].name
                )),
            );
        }
    }
    out
}

/// The positions in `drafts` of the programs a group of `sup` (the
/// supervisor at `si`) names, and where they all run; `None` once what is
/// wrong is reported: a program unknown, already in a group
/// (`group_of`), or running elsewhere than the others.
#[allow(clippy::too_many_arguments)]
fn members(
    programs: &[Spanned<String>],
    si: usize,
    sup: &Supervisor,
    drafts: &[Draft],
    group_of: &HashMap<usize, String>,
    index: &SupervisorIndex,
    cx: &Cx<'_>,
    sink: &mut Sink,
) -> Option<(Vec<usize>, Scope)> {
    let mut member_indices = Vec::new();
    let mut scope: Option<Scope> = None;
    let mut ok = true;
    for p in programs {
        let Some(pi) = index.program(si, &p.value) else {
            ok = false;
            // Described but invalid: its own errors say why.
            if cx.declared_programs.contains(&(sup.name.clone(), p.value.clone())) {
                continue;
            }
            let help = sink.did_you_mean(&p.value, drafts.iter().map(|x| x.name.as_str()));
            sink.push(
                Diagnostic::new(
                    ErrorKind::UnknownProgram {
                        supervisor: sup.name.clone(),
                        program: p.value.clone(),
                    },
                    p.span,
                )
                .maybe_help(help),
            );
            ok = false;
            continue;
        };
        let prog = &drafts[pi];
        if let Some(g) = group_of.get(&pi) {
            sink.push(
                Diagnostic::new(
                    ErrorKind::Conflict(format!("program `{}` is already in group `{g}`", p.value)),
                    p.span,
                )
                .help("a program belongs to one group at most"),
            );
            ok = false;
            continue;
        }
        match &scope {
            Some(s) if s.hosts != prog.scope.hosts => {
                sink.push(
                    Diagnostic::new(
                        ErrorKind::Conflict(format!(
                            "program `{}` runs on {} but the group's other programs run on {}",
                            p.value,
                            cx.inv.host_names(prog.scope.hosts.iter().copied()),
                            cx.inv.host_names(s.hosts.iter().copied())
                        )),
                        p.span,
                    )
                    .help("all programs of a group must have the same scope"),
                );
                ok = false;
            }
            Some(_) => {}
            None => scope = Some(prog.scope.clone()),
        }
        member_indices.push(pi);
    }
    match (ok, scope) {
        (true, Some(scope)) => Some((member_indices, scope)),
        _ => None,
    }
}

/// Whether a group's own `scope` (`given`, written `expr`; `None` when it
/// did not resolve, already reported) is where its programs run (`scope`).
fn check_group_scope(
    cx: &Cx<'_>,
    name: &Spanned<String>,
    given: Option<&Scope>,
    expr: &Spanned<String>,
    scope: &Scope,
    sink: &mut Sink,
) -> bool {
    let Some(given) = given else { return false };
    if given.hosts == scope.hosts {
        return true;
    }
    sink.push(
        Diagnostic::new(
            ErrorKind::Conflict(format!(
                "group `{}` is scoped to {} but its programs run on {}",
                name.value,
                cx.inv.host_names(given.hosts.iter().copied()),
                cx.inv.host_names(scope.hosts.iter().copied())
            )),
            expr.span,
        )
        .help("a group is deployed where its programs are: give it their scope, or leave `scope` out"),
    );
    false
}

/// Each program of `drafts`, in one of `groups` or not, with the names of
/// its processes.
fn finish_programs(drafts: Vec<Draft>, groups: &[ProgramGroup], sink: &mut Sink) -> Vec<Program> {
    let mut seen: IndexMap<String, String> = IndexMap::new();
    let mut programs = Vec::with_capacity(drafts.len());
    for (i, d) in drafts.into_iter().enumerate() {
        let group = groups.iter().position(|g| g.programs.contains(&i));
        let process_group = group.map_or_else(|| d.name.clone(), |g| groups[g].name.clone());
        let mut settings = d.settings;
        if settings.numprocs > 1 && settings.process_name.is_none() {
            settings.process_name = Some(DEFAULT_MULTI_PROCESS_NAME.to_string());
        }
        let processes = process_names(&d.name, &process_group, &settings, d.names_span, &mut seen, sink);
        programs.push(Program {
            name: d.name,
            scope: d.scope,
            command: d.command,
            conf_file_src: d.conf_file_src,
            state: d.state,
            no_remove: d.no_remove,
            group,
            process_group,
            processes,
            settings,
            healthcheck: d.healthcheck,
        });
    }
    programs
}

/// The names `supervisorctl` knows a program's processes by, `GROUP:NAME`,
/// none once what is wrong is reported; `seen` holds those of the programs
/// before it in the same supervisor.
fn process_names(
    program: &str,
    process_group: &str,
    s: &ProgramSettings,
    span: Span,
    seen: &mut IndexMap<String, String>,
    sink: &mut Sink,
) -> Vec<String> {
    let template = s.process_name.clone().unwrap_or_else(|| "%(program_name)s".into());
    let start = s.numprocs_start.unwrap_or(0);
    let names: Result<Vec<String>, String> = (start..start + s.numprocs)
        .map(|num| expand(&template, program, process_group, num, s.numprocs))
        .collect();
    let invalid = |reason: String| ErrorKind::InvalidValue {
        key: "process_name".into(),
        reason,
    };
    let names = match names {
        Ok(names) => names,
        Err(reason) => {
            sink.push(Diagnostic::new(invalid(reason), span).help(
                "use `%(program_name)s`, `%(group_name)s` and `%(process_num)d` (with an optional width, e.g. `%(process_num)02d`)",
            ));
            return Vec::new();
        }
    };
    if s.numprocs > 1 && names.iter().skip(1).all(|n| *n == names[0]) {
        let reason = format!(
            "{} processes of `{program}` would all be named `{}`",
            s.numprocs, names[0]
        );
        sink.push(Diagnostic::new(invalid(reason), span).help("include `%(process_num)d` in `process_name`"));
        return Vec::new();
    }
    // supervisor strips names and refuses blanks, `:` and `/`; any other
    // white space (NBSP, U+2028) or format character would reach the
    // program's file and the status table looking like another name.
    let bad = |c: char| {
        matches!(c, ':' | '[' | ']' | '/')
            || c.is_whitespace()
            || c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    };
    if let Some(n) = names.iter().find(|n| n.is_empty() || n.contains(bad)) {
        let reason = format!(
            "`{}` is empty or contains white space, `:`, `/`, brackets or an invisible character",
            n.escape_debug()
        );
        sink.push(
            Diagnostic::new(invalid(reason), span)
                .help("supervisor names processes `GROUP:NAME`: keep to letters, digits, `_`, `-` and `.`"),
        );
        return Vec::new();
    }
    let mut processes = Vec::with_capacity(names.len());
    for n in names {
        let full = format!("{process_group}:{n}");
        if let Some(other) = seen.insert(full.clone(), program.to_string()) {
            sink.push(
                Diagnostic::new(
                    ErrorKind::Conflict(format!(
                        "programs `{other}` and `{program}` both run a process named `{full}`"
                    )),
                    span,
                )
                .help("give one of them another `process_name`"),
            );
            break;
        }
        processes.push(full);
    }
    processes
}

/// Expands supervisor's Python `%(name)s` / `%(name)0Nd` formats in a process name.
fn expand(template: &str, program: &str, group: &str, num: u32, numprocs: u32) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('%') {
            out.push('%');
            rest = r;
            continue;
        }
        let Some(r) = rest.strip_prefix('(') else {
            return Err(format!("a lone `%` in `{template}`"));
        };
        let Some(close) = r.find(')') else {
            return Err(format!("unclosed `%(` in `{template}`"));
        };
        let key = &r[..close];
        let after = &r[close + 1..];
        let conv_at = after
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or(format!("no conversion after `%({key})`"))?;
        let (flags, conv) = (&after[..conv_at], &after[conv_at..=conv_at]);
        rest = &after[conv_at + 1..];
        let value = match key {
            "program_name" => program.to_string(),
            "group_name" => group.to_string(),
            "process_num" => num.to_string(),
            "numprocs" => numprocs.to_string(),
            _ => return Err(format!("`%({key})` cannot be known before the program runs")),
        };
        let width: usize = flags.trim_start_matches(['0', '-']).parse().unwrap_or(0);
        let zero = flags.starts_with('0');
        match (conv, zero) {
            ("d", true) => out.push_str(&format!("{:0>width$}", value)),
            ("d" | "s", _) => out.push_str(&format!("{:>width$}", value)),
            _ => return Err(format!("unsupported conversion `%{conv}`")),
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Resolves a `notify` entry (`supervisor://SUP/PROG` or `SUP:PROG`) and checks
/// that the program runs on every host the file goes to.
pub(super) fn notify_target(
    n: &Spanned<String>,
    file_scope: &Scope,
    sups: &[Supervisor],
    index: &SupervisorIndex,
    cx: &Cx<'_>,
    sink: &mut Sink,
) -> Option<ProgramId> {
    if super::other_plugin_scheme(n, "notify", sink) {
        return None;
    }
    let parsed = match n.value.strip_prefix("supervisor://") {
        Some(rest) => rest.split_once('/'),
        None => n.value.split_once(':').filter(|(s, _)| !s.contains('/')),
    };
    let Some((sup_name, prog_name)) = parsed.filter(|(s, p)| !s.is_empty() && !p.is_empty()) else {
        sink.push(
            Diagnostic::invalid_value("notify", format!("`{}` does not name a program", n.value), n.span)
                .help("write `supervisor://SUPERVISOR/PROGRAM` or `SUPERVISOR:PROGRAM`"),
        );
        return None;
    };
    let Some(&si) = index.supervisors.get(sup_name) else {
        // Described but invalid: its own errors say why.
        if cx.declared_supervisors.contains(sup_name) {
            return None;
        }
        let help = sink.did_you_mean(sup_name, sups.iter().map(|s| s.name.as_str()));
        sink.push(Diagnostic::new(ErrorKind::UnknownSupervisor(sup_name.to_string()), n.span).maybe_help(help));
        return None;
    };
    let sup = &sups[si];
    let Some(pi) = index.program(si, prog_name) else {
        if cx
            .declared_programs
            .contains(&(sup_name.to_string(), prog_name.to_string()))
        {
            return None;
        }
        let help = sink.did_you_mean(prog_name, sup.programs.iter().map(|p| p.name.as_str()));
        sink.push(
            Diagnostic::new(
                ErrorKind::UnknownProgram {
                    supervisor: sup.name.clone(),
                    program: prog_name.to_string(),
                },
                n.span,
            )
            .maybe_help(help),
        );
        return None;
    };
    let prog = &sup.programs[pi];
    if !prog.scope.covers(file_scope) {
        let missing = cx.inv.host_names(
            file_scope
                .hosts
                .iter()
                .copied()
                .filter(|h| !prog.scope.hosts.contains(h)),
        );
        sink.push(
            Diagnostic::new(
                ErrorKind::NotifyOutOfScope {
                    target: n.value.clone(),
                    missing,
                },
                n.span,
            )
            .help(format!(
                "scope the file within `{}`, where the program runs",
                prog.scope.expr
            )),
        );
        return None;
    }
    Some(ProgramId {
        supervisor: SupervisorId(si),
        program: pi,
    })
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn expands_process_names_like_supervisor() {
        assert_eq!(
            expand("%(program_name)s_%(process_num)02d", "w", "g", 3, 4).unwrap(),
            "w_03"
        );
        assert_eq!(
            expand("%(group_name)s-%(process_num)d%%", "w", "g", 10, 4).unwrap(),
            "g-10%"
        );
        assert!(
            expand("%(host_node_name)s", "w", "g", 0, 1)
                .unwrap_err()
                .contains("host_node_name")
        );
    }
}
