//! `supervisor_groups` and the programs' process names: each group's members
//! resolved, scopes checked, names expanded as supervisor expands them.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use super::{DEFAULT_MULTI_PROCESS_NAME, Draft, SupervisorIndex, find_supervisor};
use crate::error::{Diagnostic, ErrorKind, Sink};
use crate::format;
use crate::model::{Program, ProgramGroup, ProgramSettings, Scope, Supervisor};
use crate::read::{Fields, Spanned, section_items};
use crate::resolve::{Cx, check_name};
use crate::span::Span;
use crate::tree::Node;

/// The groups of each supervisor's programs (their positions in `drafts`).
pub(super) fn groups(
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
pub(super) fn finish_programs(drafts: Vec<Draft>, groups: &[ProgramGroup], sink: &mut Sink) -> Vec<Program> {
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
