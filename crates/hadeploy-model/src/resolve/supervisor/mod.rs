//! `supervisors`, `supervisor_programs` and `supervisor_groups`: instances with
//! their layout, programs with their settings and process names, groups, and
//! the `notify` references that point at programs.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use super::{Cx, check_abs_path, check_name};
use crate::error::{Diagnostic, ErrorKind, Sink};
use crate::format::{self, STATES};
use crate::model::{
    HealthCheck, HttpAuth, HttpServer, LocalSource, ProgramId, ProgramSettings, Scope, State, Supervisor, SupervisorId,
};
use crate::read::{Fields, Spanned, section_items};
use crate::span::Span;
use crate::tree::Node;

mod groups;
mod settings;

use groups::{finish_programs, groups};
use settings::{check_command, check_ini, settings};

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
