//! `vars/hadeploy.yml`: the roles' inputs, every item of the description
//! written once, with its scope, straight to text through the block writer
//! of [`crate::quote`].
//!
//! No item is written per host: each carries `scope`, the hosts and host
//! groups it goes to (HADeploy's expression, `:`-joined, `all` for every
//! host), and the roles' action plugin keeps, on each host, the items whose
//! scope names the host or one of its groups. So adding a host changes the
//! inventory only, and changing one program changes its own file only.
//! [`crate::inputs`] declares every key written here, and a test checks
//! each item against it.

use std::path::Path;

use hadeploy_model::system::rendered_on_host;
use hadeploy_model::{FileSource, LocalSource, Model, Probe, Scope, Supervisor, is_system_path};

use crate::layout::{SOURCES, file_copy_path, group_file, program_file, status_name, supervisor_dirs};
use crate::quote::{self, BlockMap, OwnVars, vault_lines};
use crate::{Content, Project, RenderError};

/// The column of the `- ` of a top-level list item.
const DASH: usize = 2;
/// The column of the `- ` of a supervisor's `processes` items.
const PROCESS_DASH: usize = DASH + 4;

/// Whether Ansible's template lookup gives a template's `bytes` back
/// unchanged, whatever the host: UTF-8 (it reads templates as such) without
/// Jinja marker (`{{`, `{%`, `{#`) nor carriage return (Jinja writes those
/// as line feeds). Such a template is sent as it is, not rendered.
fn renders_to_itself(bytes: &[u8]) -> bool {
    !bytes.contains(&b'\r') && std::str::from_utf8(bytes).is_ok_and(|t| !quote::has_jinja_marker(t))
}

/// Whether project file `src`, a template, must be rendered by Ansible (it
/// depends on the host), rather than sent as it is.
fn needs_rendering(project: &Project, src: &str) -> bool {
    match project.get(src) {
        Some(Content::Bytes(b)) => !renders_to_itself(b),
        Some(Content::Copy(_)) | None => true,
    }
}

/// A scope as the roles read it: its hosts and host groups joined with
/// `:`, `all` for every host.
pub(crate) fn scope_text(s: &Scope) -> String {
    let parts: Vec<&str> = s
        .expr
        .split(':')
        .map(str::trim)
        .map(|p| if p == "*" { "all" } else { p })
        .collect();
    if parts.contains(&"all") {
        "all".to_string()
    } else {
        parts.join(":")
    }
}

/// A program's or a group's file in its instance's include folder
/// ([`program_file`], [`group_file`]).
struct ProgramFile<'a> {
    name: &'a str,
    /// Its file's name.
    file: String,
    render: bool,
    process_group: &'a str,
    no_remove: bool,
    scope: &'a Scope,
}

impl ProgramFile<'_> {
    /// Its `hadeploy_supervisor_program_files` item, into `t`.
    fn write(&self, t: &mut String, s: &Supervisor, project: &Project, v: &OwnVars) {
        let src = format!("supervisors/{}/programs/{}", s.name, self.file);
        let render = self.render && needs_rendering(project, &format!("{SOURCES}/{src}"));
        BlockMap::item(t, DASH, v)
            .str("supervisor", &s.name)
            .str("program", self.name)
            .str("src", &src)
            .str("dest", &format!("{}/{}", s.include_dir, self.file))
            .str("owner", &s.user)
            .str("group", &s.group)
            .str("mode", "0640")
            .bool("render", render)
            .str("process_group", self.process_group)
            .bool("no_remove", self.no_remove)
            .str("scope", &scope_text(self.scope));
    }
}

/// Whether a path of `kept` (sorted) lies inside the folder `path`.
fn keeps_inside(kept: &[String], path: &str) -> bool {
    let prefix = format!("{path}/");
    let at = kept.partition_point(|k| k.as_str() < prefix.as_str());
    kept.get(at).is_some_and(|k| k.starts_with(&prefix))
}

/// How many times (of 1 s) the module looks again at a starting program
/// before it gives up: past `startsecs` of each retry, and the backoff.
fn settle_retries(s: &Supervisor) -> u32 {
    s.programs
        .iter()
        .map(|p| {
            let st = p.settings.effective_startsecs();
            let tries = p.settings.startretries.unwrap_or(3);
            st * (tries + 1) + tries * (tries + 1) / 2 + 5
        })
        .max()
        .filter(|&n| n > 0)
        .unwrap_or(15)
}

/// Writes one list of the roles' inputs: its items, at the column it is given.
type Writer = fn(&Model, &Project, &mut String, usize, &OwnVars) -> Result<(), RenderError>;

/// The roles' inputs, in the order `vars/hadeploy.yml` lists them.
const LISTS: &[(&str, Writer)] = &[
    ("hadeploy_base_groups", base_groups),
    ("hadeploy_base_users", base_users),
    ("hadeploy_base_authorized_keys", base_authorized_keys),
    ("hadeploy_base_sudoers", base_sudoers),
    ("hadeploy_base_folders", base_folders),
    ("hadeploy_base_files", base_files),
    ("hadeploy_supervisor_instances", supervisor_instances),
    ("hadeploy_supervisor_dirs", instance_dirs),
    ("hadeploy_supervisor_files", instance_files),
    ("hadeploy_supervisor_remove", supervisor_remove),
    ("hadeploy_supervisor_log_dirs", supervisor_log_dirs),
    ("hadeploy_supervisor_program_files", supervisor_program_files),
];

/// The roles' inputs of `model`: the text of `vars/hadeploy.yml`.
pub fn write(model: &Model, project: &Project) -> Result<String, RenderError> {
    let mut out = String::from(
        "# Generated by hadeploy: what the roles deploy, every item once, with the\n\
         # hosts and host groups it goes to (`scope`). Do not edit.\n\
         # yamllint disable rule:line-length\n---\n",
    );
    quote::top_scalar(
        &mut out,
        crate::inputs::INPUTS_VERSION.name,
        &serde_json::Value::from(env!("CARGO_PKG_VERSION")),
    );
    let own = OwnVars::new(
        crate::inputs::OWN_VARS.name,
        model.vars.keys().chain(model.encrypted_vars.keys()).cloned(),
    );
    let vars: Vec<(&str, &serde_json::Value)> = model.vars.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut vault = Vec::new();
    for (k, v) in &model.encrypted_vars {
        vault.push((k.as_str(), vault_lines(k, v)?));
    }
    own.write_map(&vars, &vault, &mut out);
    for (name, writer) in LISTS {
        let mut items = String::new();
        writer(model, project, &mut items, DASH, &own)?;
        quote::top_list(&mut out, name, |o, _| o.push_str(&items));
    }
    Ok(out)
}

/// The groups the description manages.
fn base_groups(m: &Model, _: &Project, o: &mut String, d: usize, v: &OwnVars) -> Result<(), RenderError> {
    for g in m.groups.iter().filter(|g| g.managed) {
        BlockMap::item(o, d, v)
            .str("name", &g.name)
            .bool("system", g.system)
            .bool("no_remove", g.no_remove)
            .str("scope", &scope_text(&g.scope));
    }
    Ok(())
}

/// The accounts.
fn base_users(m: &Model, _: &Project, o: &mut String, d: usize, v: &OwnVars) -> Result<(), RenderError> {
    for u in &m.users {
        let mut i = BlockMap::item(o, d, v);
        i.str("login", &u.login).bool("managed", u.managed);
        if let Some(c) = &u.comment {
            i.str("comment", c);
        }
        if let Some(g) = &u.group {
            i.str("group", g);
        }
        if !u.groups.is_empty() {
            i.strs("groups", &u.groups);
        }
        i.bool("system", u.system).bool("create_home", u.create_home);
        if let Some(p) = &u.password {
            i.str("password", p);
        }
        i.bool("no_remove", u.no_remove).str("scope", &scope_text(&u.scope));
    }
    Ok(())
}

/// Each account's keys, one line each.
fn base_authorized_keys(m: &Model, _: &Project, o: &mut String, d: usize, v: &OwnVars) -> Result<(), RenderError> {
    for u in &m.users {
        for key in &u.authorized_keys {
            BlockMap::item(o, d, v)
                .str("user", &u.login)
                .data("key", key)
                .str("scope", &scope_text(&u.scope));
        }
    }
    Ok(())
}

/// Each account's sudo rule.
fn base_sudoers(m: &Model, _: &Project, o: &mut String, d: usize, v: &OwnVars) -> Result<(), RenderError> {
    for u in m.users.iter().filter(|u| !u.can_sudo_to.is_empty()) {
        for name in std::iter::once(&u.login).chain(&u.can_sudo_to) {
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                return Err(RenderError::Value {
                    what: format!("user `{}`", u.login),
                    reason: format!("`{name}` cannot be written in a sudoers rule"),
                });
            }
        }
        BlockMap::item(o, d, v)
            .str("user", &u.login)
            .str(
                "dest",
                // HADeploy's name, so a host it deployed keeps one file;
                // sudo skips names holding a `.`.
                &format!("/etc/sudoers.d/{}", u.login.replace('.', "_")),
            )
            .str("content", &sudoers_rule(&u.login, &u.can_sudo_to))
            .bool("no_remove", u.no_remove)
            .str("scope", &scope_text(&u.scope));
    }
    Ok(())
}

/// The folders; one that holds a kept file or folder is kept too.
fn base_folders(m: &Model, _: &Project, o: &mut String, d: usize, v: &OwnVars) -> Result<(), RenderError> {
    let mut kept: Vec<String> = m
        .folders
        .iter()
        .filter(|f| f.no_remove)
        .map(|f| f.path.clone())
        .chain(m.files.iter().filter(|f| f.no_remove).map(|f| f.dest()))
        .collect();
    kept.sort_unstable();
    for f in &m.folders {
        // Removing a folder would take what is kept inside with it.
        let keep = f.no_remove || keeps_inside(&kept, &f.path);
        let mut i = BlockMap::item(o, d, v);
        i.str("path", &f.path)
            .str("owner", &f.owner)
            .str("group", &f.group)
            .str("mode", &f.mode)
            .bool("no_remove", keep);
        if rendered_on_host(&f.path) {
            // Checked on the host once Ansible renders it.
            i.bool("rendered", true);
        }
        i.str("scope", &scope_text(&f.scope));
    }
    Ok(())
}

/// The files, each with where its content comes from.
fn base_files(m: &Model, project: &Project, o: &mut String, d: usize, v: &OwnVars) -> Result<(), RenderError> {
    for (n, f) in m.files.iter().enumerate() {
        let mut i = BlockMap::item(o, d, v);
        match &f.src {
            FileSource::File { .. } => {
                let src = file_copy_path(n, f);
                i.str("kind", "copy").str("src", &src);
                // Read once here, not once per host by the controller.
                if let Some(Content::Copy(c)) = project.get(&format!("{SOURCES}/{src}")) {
                    i.str("checksum", &c.sha1);
                }
            }
            FileSource::Template { .. } => {
                let src = file_copy_path(n, f);
                let render = needs_rendering(project, &format!("{SOURCES}/{src}"));
                i.str("kind", "template").str("src", &src).bool("render", render);
            }
            FileSource::Url {
                url,
                validate_certs,
                force_basic_auth,
                username,
                password,
            } => {
                i.str("kind", "url")
                    .str("url", url)
                    .bool("validate_certs", *validate_certs)
                    .bool("force_basic_auth", *force_basic_auth);
                if let Some(u) = username {
                    i.str("url_username", u);
                }
                if let Some(p) = password {
                    i.str("url_password", p);
                }
            }
        }
        i.str("dest", &f.dest());
        if rendered_on_host(&f.dest_folder) {
            i.bool("rendered", true);
        }
        i.str("owner", &f.owner)
            .str("group", &f.group)
            .str("mode", &f.mode)
            .bool("no_remove", f.no_remove)
            .list("notify", |out, dash| {
                for r in &f.notify {
                    let (s, p) = m.program(*r);
                    for proc in &p.processes {
                        BlockMap::item(out, dash, v)
                            .str("supervisor", &s.name)
                            .str("process", &status_name(proc))
                            .str("group", &p.process_group);
                    }
                }
            })
            .str("scope", &scope_text(&f.scope));
    }
    Ok(())
}

/// The instances, each with its processes and health checks.
fn supervisor_instances(m: &Model, _: &Project, o: &mut String, d: usize, v: &OwnVars) -> Result<(), RenderError> {
    for s in &m.supervisors {
        let mut i = BlockMap::item(o, d, v);
        i.str("name", &s.name)
            .bool("managed", s.managed)
            .str("conf", &s.conf_file_dst)
            .str("unit", &s.unit)
            .str("socket", &s.socket)
            .str("unit_path", &format!("/etc/systemd/system/{}", s.unit))
            .str("state", s.state.as_str())
            .bool("enabled", s.enabled)
            .str("include_dir", &s.include_dir)
            .bool("no_remove", s.no_remove)
            .int("settle", settle_retries(s).into())
            .str("scope", &scope_text(&s.scope))
            .list("processes", |o, d| {
                debug_assert_eq!(d, PROCESS_DASH);
                for p in &s.programs {
                    for proc in &p.processes {
                        BlockMap::item(o, d, v)
                            .str("status", &status_name(proc))
                            .str("state", p.state.as_str())
                            .str("group", &p.process_group)
                            .str("program", &p.name)
                            .str("scope", &scope_text(&p.scope));
                    }
                }
            });
        if s.programs.iter().any(|p| p.healthcheck.is_some()) {
            i.list("healthchecks", |o, d| {
                for p in &s.programs {
                    let Some(h) = &p.healthcheck else { continue };
                    let processes: Vec<String> = p.processes.iter().map(|x| status_name(x)).collect();
                    let mut i = BlockMap::item(o, d, v);
                    i.str("program", &p.name).strs("processes", &processes);
                    match &h.probe {
                        Probe::Http(url) => i.str("http", url),
                        Probe::Command(words) => i.strs("command", words),
                    };
                    i.int("timeout", h.timeout.into())
                        .str("user", &s.user)
                        .str("scope", &scope_text(&p.scope));
                }
            });
        }
    }
    Ok(())
}

/// The managed instances' folders.
fn instance_dirs(m: &Model, _: &Project, o: &mut String, d: usize, v: &OwnVars) -> Result<(), RenderError> {
    let managed = || m.supervisors.iter().filter(|s| s.managed);
    for s in managed() {
        for dir in supervisor_dirs(s) {
            BlockMap::item(o, d, v)
                .str("path", &dir)
                .str("owner", &s.user)
                .str("group", &s.group)
                .str("mode", "0750")
                .str("scope", &scope_text(&s.scope));
        }
    }
    Ok(())
}

/// The managed instances' files.
fn instance_files(m: &Model, project: &Project, o: &mut String, _: usize, v: &OwnVars) -> Result<(), RenderError> {
    let managed = || m.supervisors.iter().filter(|s| s.managed);
    for s in managed() {
        supervisor_files(o, s, project, v);
    }
    Ok(())
}

/// What `remove` deletes of the managed instances.
fn supervisor_remove(m: &Model, _: &Project, o: &mut String, d: usize, v: &OwnVars) -> Result<(), RenderError> {
    let managed = || m.supervisors.iter().filter(|s| s.managed);
    for s in managed().filter(|s| !s.no_remove) {
        let unit_path = format!("/etc/systemd/system/{}", s.unit);
        let dirs = supervisor_dirs(s);
        let paths = [(&unit_path, true), (&s.supervisorctl, false), (&s.conf_file_dst, false)]
            .into_iter()
            .chain(dirs.iter().map(|d| (d, false)));
        for (path, unit) in paths {
            BlockMap::item(o, d, v)
                .str("path", path)
                .bool("unit", unit)
                .str("scope", &scope_text(&s.scope));
        }
    }
    Ok(())
}

/// The programs' log folders the instances do not create.
fn supervisor_log_dirs(m: &Model, _: &Project, o: &mut String, d: usize, v: &OwnVars) -> Result<(), RenderError> {
    for s in &m.supervisors {
        for p in &s.programs {
            for dir in log_dirs(s, p) {
                BlockMap::item(o, d, v)
                    .str("path", &dir)
                    .str("owner", &s.user)
                    .str("group", &s.group)
                    .str("scope", &scope_text(&p.scope));
            }
        }
    }
    Ok(())
}

/// The program and group files.
fn supervisor_program_files(
    m: &Model,
    project: &Project,
    o: &mut String,
    _: usize,
    v: &OwnVars,
) -> Result<(), RenderError> {
    for s in &m.supervisors {
        for p in &s.programs {
            ProgramFile {
                name: &p.name,
                file: program_file(&p.name),
                render: !matches!(p.conf_file_src, Some(LocalSource::File(_))),
                process_group: &p.process_group,
                no_remove: p.no_remove,
                scope: &p.scope,
            }
            .write(o, s, project, v);
        }
        for g in &s.groups {
            ProgramFile {
                name: &g.name,
                file: group_file(&g.name),
                render: true,
                process_group: &g.name,
                no_remove: g.no_remove,
                scope: &g.scope,
            }
            .write(o, s, project, v);
        }
    }
    Ok(())
}

/// The folders of a program's log files that its instance does not
/// create: absolute, without supervisor's `%(...)s`, not the instance's
/// log folder nor a folder of the system.
fn log_dirs(s: &Supervisor, p: &hadeploy_model::Program) -> Vec<String> {
    let mut out = Vec::new();
    for f in [&p.settings.stdout_logfile, &p.settings.stderr_logfile]
        .into_iter()
        .flatten()
    {
        if !f.starts_with('/') || f.contains("%(") {
            continue;
        }
        let Some(parent) = Path::new(f).parent().map(|p| p.display().to_string()) else {
            continue;
        };
        if parent != s.logs_dir && !is_system_path(&parent) && !out.contains(&parent) {
            out.push(parent);
        }
    }
    out
}

/// The `hadeploy_supervisor_files` items of a managed instance: its
/// configuration, unit and `supervisorctl_NAME`.
fn supervisor_files(t: &mut String, s: &Supervisor, project: &Project, v: &OwnVars) {
    let dir = format!("supervisors/{}", s.name);
    // The web password hash is readable by the instance's group only.
    let conf_mode = if s.http_server.as_ref().is_some_and(|h| h.auth.is_some()) || s.conf_file_src.is_some() {
        "0640"
    } else {
        "0644"
    };
    let copy_conf = matches!(s.conf_file_src, Some(LocalSource::File(_)));
    // The configuration hadeploy writes holds the web password's hash:
    // the deploy shows no diff of it.
    let secret_conf = s.conf_file_src.is_none() && s.http_server.as_ref().is_some_and(|h| h.auth.is_some());
    let unit_path = format!("/etc/systemd/system/{}", s.unit);
    let files = [
        (
            format!("{dir}/supervisord.conf"),
            s.conf_file_dst.as_str(),
            s.group.as_str(),
            conf_mode,
            !copy_conf,
            true,
            secret_conf,
        ),
        (
            format!("{dir}/{}", s.unit),
            &unit_path,
            "root",
            "0644",
            true,
            true,
            false,
        ),
        (
            format!("{dir}/supervisorctl_{}", s.name),
            &s.supervisorctl,
            "root",
            "0755",
            true,
            false,
            false,
        ),
    ];
    for (src, dest, group, mode, render, restart, secret) in files {
        let render = render && needs_rendering(project, &format!("{SOURCES}/{src}"));
        BlockMap::item(t, DASH, v)
            .str("supervisor", &s.name)
            .str("src", &src)
            .str("dest", dest)
            .str("owner", "root")
            .str("group", group)
            .str("mode", mode)
            .bool("render", render)
            .bool("restart", restart)
            .bool("secret", secret)
            .map("layout", |l| {
                l.str("name", &s.name)
                    .str("user", &s.user)
                    .str("group", &s.group)
                    .str("conf_file_dst", &s.conf_file_dst)
                    .str("include_dir", &s.include_dir)
                    .str("logs_dir", &s.logs_dir)
                    .str("pid_dir", &s.pid_dir)
                    .str("socks_dir", &s.socks_dir)
                    .str("socket", &s.socket)
                    .str("pid_file", &s.pid_file);
            })
            .str("scope", &scope_text(&s.scope));
    }
}

/// The sudoers rule that lets `login` run any command as any of `targets`
/// (the model allows only account names there: no `ALL`, no alias).
pub fn sudoers_rule(login: &str, targets: &[String]) -> String {
    format!("{login} ALL=({}) NOPASSWD: ALL\n", targets.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_kept_for_what_is_kept_inside_it_only() {
        let mut kept: Vec<String> = ["/opt/ab/x", "/srv", "/opt/a/b/c.txt"].map(String::from).into();
        kept.sort_unstable();
        // Paths of the model are normalised: no trailing `/`.
        assert!(keeps_inside(&kept, "/opt/a"));
        assert!(keeps_inside(&kept, "/opt"));
        assert!(keeps_inside(&kept, "/opt/ab"));
        assert!(!keeps_inside(&kept, "/opt/a/b/c.txt"));
        assert!(!keeps_inside(&kept, "/srv"));
        assert!(!keeps_inside(&kept, "/op"));
    }

    #[test]
    fn only_templates_jinja_would_change_are_rendered() {
        assert!(renders_to_itself(b"hello\n"));
        assert!(renders_to_itself(b"echo ${x} {}\n"));
        for dynamic in [&b"{{ x }}"[..], b"{% if a %}", b"n=${#list[@]}", b"a\r\nb", b"\xff"] {
            assert!(!renders_to_itself(dynamic), "{:?}", String::from_utf8_lossy(dynamic));
        }
        let mut project = Project::new();
        project.insert("files/t/fixed".into(), Content::Bytes(b"hello\n".to_vec()));
        project.insert("files/t/jinja".into(), Content::Bytes(b"{{ x }}\n".to_vec()));
        assert!(!needs_rendering(&project, "files/t/fixed"));
        assert!(needs_rendering(&project, "files/t/jinja"));
        assert!(needs_rendering(&project, "files/t/absent"));
    }
}
