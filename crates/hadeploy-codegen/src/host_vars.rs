//! `host_vars/HOST.yml`: what each host gets, written straight to text
//! through the block writer of [`crate::quote`].
//!
//! A folder, file, program or supervisor entry is the same text on every
//! host it lands on: each is written once, and each host's file is the
//! concatenation of the entries of that host, found through an index from
//! host to items built once. Only a supervisor's `processes` list depends on
//! the host (the programs of that supervisor that are on it).

use hadeploy_model::system::rendered_on_host;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use hadeploy_model::{FileSource, Host, LocalSource, Model, Supervisor, is_system_path};
use serde_json::Value;

use crate::quote::{self, BlockMap};
use crate::views::{file_copy_path, status_name, supervisor_dirs};
use crate::{Content, Project, RenderError};

/// The column of the `- ` of a top-level list item.
const DASH: usize = 2;
/// The column of the `- ` of a supervisor's `processes` items.
const PROCESS_DASH: usize = DASH + 4;

/// The SHA-1 (hex, as Ansible writes checksums) of the file that the copy
/// module (`render` false) or the template module writes on a host from the
/// project file `bytes`, when it does not depend on the host: a copied file's
/// bytes, and a template in UTF-8 (the module reads it as such) without Jinja
/// marker (`{{`, `{%`, `{#`) nor carriage return (Jinja writes those as line
/// feeds). The deploy compares it with the file on the host to leave out
/// files already in place; for other templates Ansible renders them to know.
pub(crate) fn fixed_checksum(bytes: &[u8], render: bool) -> Option<String> {
    let fixed =
        !render || !bytes.contains(&b'\r') && std::str::from_utf8(bytes).is_ok_and(|t| !quote::has_jinja_marker(t));
    fixed.then(|| sha1_smol::Sha1::from(bytes).digest().to_string())
}

/// `checksum:` of project file `src` when it is fixed ([`fixed_checksum`]).
fn checksum(o: &mut BlockMap<'_>, project: &Project, src: &str, render: bool) {
    let sum = match project.get(src) {
        Some(Content::Bytes(b)) => fixed_checksum(b, render),
        Some(Content::Copy(c)) => Some(c.sha1.clone()),
        None => None,
    };
    if let Some(sum) = sum {
        o.str("checksum", &sum);
    }
}

/// A program's or a group's file in its instance's include folder:
/// `NAME_prg.ini` or `NAME_grp.ini`.
struct ProgramFile<'a> {
    name: &'a str,
    /// `prg` or `grp`.
    kind: &'a str,
    render: bool,
    process_group: &'a str,
    no_remove: bool,
}

impl ProgramFile<'_> {
    /// Its `hadeploy_program_files` item, into `t`.
    fn write(&self, t: &mut String, s: &Supervisor, prg_dir: &str, inc: &str, project: &Project) {
        let src = format!("{prg_dir}/{}_{}.ini", self.name, self.kind);
        let mut o = BlockMap::item(t, DASH);
        o.str("supervisor", &s.name).str("program", self.name).str("src", &src);
        checksum(&mut o, project, &src, self.render);
        o.str("dest", &format!("{inc}/{}_{}.ini", self.name, self.kind))
            .str("owner", &s.user)
            .str("group", &s.group)
            .str("mode", "0640")
            .bool("render", self.render)
            .str("process_group", self.process_group)
            .bool("no_remove", self.no_remove);
    }
}

/// For every host of the model (in its order), the indices of the items
/// whose scope names it, ascending; an item is listed once per host even
/// when its scope repeats the host.
fn by_host<'m>(hosts: &HashMap<&str, usize>, scopes: impl Iterator<Item = &'m [String]>) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); hosts.len()];
    for (i, scope) in scopes.enumerate() {
        let i = u32::try_from(i).expect("fewer than 2^32 items");
        for h in scope {
            if let Some(&x) = hosts.get(h.as_str()) {
                let list: &mut Vec<u32> = &mut out[x];
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
    }
    out
}

/// The items of `list` (ascending) that fall in `range`.
fn within(list: &[u32], range: std::ops::Range<usize>) -> &[u32] {
    let start = list.partition_point(|&i| (i as usize) < range.start);
    let end = list.partition_point(|&i| (i as usize) < range.end);
    &list[start..end]
}

/// Whether a path of `kept` (sorted) lies inside the folder `path`.
fn keeps_inside(kept: &[String], path: &str) -> bool {
    let prefix = format!("{path}/");
    let at = kept.partition_point(|k| k.as_str() < prefix.as_str());
    kept.get(at).is_some_and(|k| k.starts_with(&prefix))
}

/// Entries written one after the other into one buffer.
#[derive(Default)]
struct Texts {
    buf: String,
    ends: Vec<usize>,
}

impl Texts {
    /// The buffer to write the next entry into; [`Texts::close`] ends it.
    fn open(&mut self) -> &mut String {
        &mut self.buf
    }

    fn close(&mut self) {
        self.ends.push(self.buf.len());
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }
}

/// Every host's `host_vars` file, from entries written once.
pub struct HostVars<'m> {
    model: &'m Model,
    /// Per host: indices into `model.groups`, `users`, `folders`, `files`,
    /// `supervisors`, and global indices of programs and program groups
    /// (supervisor by supervisor, see `prog_base` and `pgroup_base`).
    groups: Vec<Vec<u32>>,
    users: Vec<Vec<u32>>,
    folders: Vec<Vec<u32>>,
    files: Vec<Vec<u32>>,
    sups: Vec<Vec<u32>>,
    progs: Vec<Vec<u32>>,
    pgroups: Vec<Vec<u32>>,
    /// Global index of each supervisor's first program, and one past the last.
    prog_base: Vec<usize>,
    pgroup_base: Vec<usize>,
    group_text: Texts,
    user_text: Texts,
    /// Written at the first host that has the user: reading the keys, or
    /// checking the sudoers rule, may fail.
    user_keys: Vec<Option<String>>,
    user_sudo: Vec<Option<String>>,
    folder_text: Texts,
    file_text: Texts,
    /// A supervisor's entry up to its `processes` key (not written).
    sup_head: Texts,
    sup_dirs: Texts,
    sup_files: Texts,
    sup_remove: Texts,
    /// Per global program: its `processes` items, its log
    /// folders (path, item), its program file item.
    prog_procs: Texts,
    prog_logs: Vec<Vec<(String, String)>>,
    prog_file: Texts,
    pgroup_file: Texts,
}

impl<'m> HostVars<'m> {
    /// Indexes `model` and writes every entry that cannot fail.
    pub fn new(model: &'m Model, project: &Project) -> Self {
        let m = model;
        let hosts: HashMap<&str, usize> = m.hosts.keys().enumerate().map(|(i, h)| (h.as_str(), i)).collect();
        let mut prog_base = vec![0];
        let mut pgroup_base = vec![0];
        for s in &m.supervisors {
            prog_base.push(prog_base.last().unwrap() + s.programs.len());
            pgroup_base.push(pgroup_base.last().unwrap() + s.groups.len());
        }
        let all_progs = || {
            m.supervisors
                .iter()
                .flat_map(|s| s.programs.iter().map(move |p| (s, p)))
        };
        let mut hv = HostVars {
            model,
            groups: by_host(&hosts, m.groups.iter().map(|g| g.scope.hosts.as_slice())),
            users: by_host(&hosts, m.users.iter().map(|u| u.scope.hosts.as_slice())),
            folders: by_host(&hosts, m.folders.iter().map(|f| f.scope.hosts.as_slice())),
            files: by_host(&hosts, m.files.iter().map(|f| f.scope.hosts.as_slice())),
            sups: by_host(&hosts, m.supervisors.iter().map(|s| s.scope.hosts.as_slice())),
            progs: by_host(&hosts, all_progs().map(|(_, p)| p.scope.hosts.as_slice())),
            pgroups: by_host(
                &hosts,
                m.supervisors
                    .iter()
                    .flat_map(|s| s.groups.iter().map(|g| g.scope.hosts.as_slice())),
            ),
            prog_base,
            pgroup_base,
            group_text: Texts::default(),
            user_text: Texts::default(),
            user_keys: vec![None; m.users.len()],
            user_sudo: vec![None; m.users.len()],
            folder_text: Texts::default(),
            file_text: Texts::default(),
            sup_head: Texts::default(),
            sup_dirs: Texts::default(),
            sup_files: Texts::default(),
            sup_remove: Texts::default(),
            prog_procs: Texts::default(),
            prog_logs: Vec::new(),
            prog_file: Texts::default(),
            pgroup_file: Texts::default(),
        };
        for g in &m.groups {
            let t = hv.group_text.open();
            BlockMap::item(t, DASH)
                .str("name", &g.name)
                .bool("system", g.system)
                .bool("no_remove", g.no_remove);
            hv.group_text.close();
        }
        for u in &m.users {
            let t = hv.user_text.open();
            let mut o = BlockMap::item(t, DASH);
            o.str("login", &u.login).bool("managed", u.managed);
            if let Some(c) = &u.comment {
                o.str("comment", c);
            }
            if let Some(g) = &u.group {
                o.str("group", g);
            }
            if !u.groups.is_empty() {
                o.strs("groups", &u.groups);
            }
            o.bool("system", u.system).bool("create_home", u.create_home);
            if let Some(p) = &u.password {
                o.str("password", p);
            }
            o.bool("no_remove", u.no_remove);
            hv.user_text.close();
        }
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
            let t = hv.folder_text.open();
            let mut o = BlockMap::item(t, DASH);
            o.str("path", &f.path)
                .str("owner", &f.owner)
                .str("group", &f.group)
                .str("mode", &f.mode)
                .bool("no_remove", keep);
            if rendered_on_host(&f.path) {
                // Checked on the host once Ansible renders it.
                o.bool("rendered", true);
            }
            hv.folder_text.close();
        }
        for (i, f) in m.files.iter().enumerate() {
            let t = hv.file_text.open();
            let mut o = BlockMap::item(t, DASH);
            match &f.src {
                FileSource::File { .. } => {
                    let src = file_copy_path(i, f);
                    o.str("kind", "copy").str("src", &src);
                    checksum(&mut o, project, &src, false);
                }
                FileSource::Template { .. } => {
                    let src = file_copy_path(i, f);
                    o.str("kind", "template").str("src", &src);
                    checksum(&mut o, project, &src, true);
                }
                FileSource::Url {
                    url,
                    validate_certs,
                    force_basic_auth,
                    username,
                    password,
                } => {
                    o.str("kind", "url")
                        .str("url", url)
                        .bool("validate_certs", *validate_certs)
                        .bool("force_basic_auth", *force_basic_auth);
                    if let Some(u) = username {
                        o.str("url_username", u);
                    }
                    if let Some(p) = password {
                        o.str("url_password", p);
                    }
                }
            }
            o.str("dest", &f.dest());
            if rendered_on_host(&f.dest_folder) {
                o.bool("rendered", true);
            }
            o.str("owner", &f.owner)
                .str("group", &f.group)
                .str("mode", &f.mode)
                .bool("no_remove", f.no_remove)
                .list("notify", |out, dash| {
                    for r in &f.notify {
                        let (s, p) = m.program(r);
                        for proc in &p.processes {
                            BlockMap::item(out, dash)
                                .str("supervisor", &s.name)
                                .str("process", &status_name(proc))
                                .str("group", &p.process_group);
                        }
                    }
                });
            hv.file_text.close();
        }
        for s in &m.supervisors {
            hv.supervisor(s, project);
        }
        hv
    }

    fn supervisor(&mut self, s: &Supervisor, project: &Project) {
        let t = self.sup_head.open();
        BlockMap::item(t, DASH)
            .str("name", &s.name)
            .bool("managed", s.managed)
            .str("conf", &s.conf_file_dst)
            .str("unit", &s.unit)
            .str("socket", &s.socket)
            .str("unit_path", &format!("/etc/systemd/system/{}", s.unit))
            .str("state", s.state.as_str())
            .bool("enabled", s.enabled)
            .str("include_dir", &s.include_dir)
            .bool("no_remove", s.no_remove);
        self.sup_head.close();

        let t = self.sup_dirs.open();
        for d in supervisor_dirs(s) {
            BlockMap::item(t, DASH)
                .str("path", &d)
                .str("owner", &s.user)
                .str("group", &s.group)
                .str("mode", "0750");
        }
        self.sup_dirs.close();

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
        let t = self.sup_files.open();
        for (src, dest, group, mode, render, restart, secret) in files {
            let mut o = BlockMap::item(t, DASH);
            o.str("supervisor", &s.name).str("src", &src);
            checksum(&mut o, project, &src, render);
            o.str("dest", dest)
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
                });
        }
        self.sup_files.close();

        let t = self.sup_remove.open();
        if !s.no_remove {
            let mut item = |path: &str, unit: bool| {
                BlockMap::item(t, DASH).str("path", path).bool("unit", unit);
            };
            item(&unit_path, true);
            item(&s.supervisorctl, false);
            item(&s.conf_file_dst, false);
            for d in supervisor_dirs(s) {
                item(&d, false);
            }
        }
        self.sup_remove.close();

        let prg_dir = format!("supervisors/{}/programs", s.name);
        let inc = &s.include_dir;
        for p in &s.programs {
            let t = self.prog_procs.open();
            for proc in &p.processes {
                BlockMap::item(t, PROCESS_DASH)
                    .str("status", &status_name(proc))
                    .str("state", p.state.as_str())
                    .str("group", &p.process_group);
            }
            self.prog_procs.close();
            let mut logs = Vec::new();
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
                if parent == s.logs_dir || is_system_path(&parent) {
                    continue;
                }
                let mut t = String::new();
                BlockMap::item(&mut t, DASH)
                    .str("path", &parent)
                    .str("owner", &s.user)
                    .str("group", &s.group);
                logs.push((parent, t));
            }
            self.prog_logs.push(logs);
            let render = !matches!(p.conf_file_src, Some(LocalSource::File(_)));
            let t = self.prog_file.open();
            let file = ProgramFile {
                name: &p.name,
                kind: "prg",
                render,
                process_group: &p.process_group,
                no_remove: p.no_remove,
            };
            file.write(t, s, &prg_dir, inc, project);
            self.prog_file.close();
        }
        for g in &s.groups {
            let t = self.pgroup_file.open();
            let file = ProgramFile {
                name: &g.name,
                kind: "grp",
                render: true,
                process_group: &g.name,
                no_remove: g.no_remove,
            };
            file.write(t, s, &prg_dir, inc, project);
            self.pgroup_file.close();
        }
    }

    /// The authorized keys and sudoers entries of the users on host `x`,
    /// for those not written yet, in the order the file lists them.
    fn user_entries(&mut self, x: usize) -> Result<(), RenderError> {
        let m = self.model;
        for &i in &self.users[x] {
            let (i, u) = (i as usize, &m.users[i as usize]);
            if self.user_keys[i].is_some() {
                continue;
            }
            let mut t = String::new();
            for key in &u.authorized_keys {
                BlockMap::item(&mut t, DASH).str("user", &u.login).str("key", key);
            }
            self.user_keys[i] = Some(t);
        }
        for &i in &self.users[x] {
            let (i, u) = (i as usize, &m.users[i as usize]);
            if self.user_sudo[i].is_some() {
                continue;
            }
            let mut t = String::new();
            if !u.can_sudo_to.is_empty() {
                for name in std::iter::once(&u.login).chain(&u.can_sudo_to) {
                    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                        return Err(RenderError::Value {
                            what: format!("user `{}`", u.login),
                            reason: format!("`{name}` cannot be written in a sudoers rule"),
                        });
                    }
                }
                BlockMap::item(&mut t, DASH)
                    .str("user", &u.login)
                    .str(
                        "dest",
                        // HADeploy's name, so a host it deployed keeps one
                        // file; sudo skips names holding a `.`.
                        &format!("/etc/sudoers.d/{}", u.login.replace('.', "_")),
                    )
                    .str("content", &sudoers_rule(&u.login, &u.can_sudo_to))
                    .bool("no_remove", u.no_remove);
            }
            self.user_sudo[i] = Some(t);
        }
        Ok(())
    }

    /// The file of host `h`, the `x`th of the model, written into `out`.
    pub fn host(&mut self, x: usize, h: &Host, out: &mut String) -> Result<(), RenderError> {
        self.user_entries(x)?;
        let m = self.model;
        let sups: Vec<(usize, &Supervisor)> = self.sups[x]
            .iter()
            .map(|&i| (i as usize, &m.supervisors[i as usize]))
            .collect();
        let progs_of = |s: usize| within(&self.progs[x], self.prog_base[s]..self.prog_base[s + 1]);
        let mut settle = 0u32;
        for &(i, s) in &sups {
            for &p in progs_of(i) {
                let p = &s.programs[p as usize - self.prog_base[i]];
                let st = p.settings.effective_startsecs();
                let tries = p.settings.startretries.unwrap_or(3);
                settle = settle.max(st * (tries + 1) + tries * (tries + 1) / 2 + 5);
            }
        }
        let any_managed = sups.iter().any(|(_, s)| s.managed);

        out.push_str("# Generated by hadeploy: what host ");
        quote::value_str_into(&h.name, out);
        out.push_str(" gets. Do not edit.\n# yamllint disable rule:line-length\n---\n");
        quote::top_scalar(
            out,
            "hadeploy_install_supervisor",
            &Value::from(h.privileged && any_managed),
        );
        quote::top_scalar(
            out,
            "hadeploy_settle_retries",
            &Value::from(if settle == 0 { 15 } else { settle }),
        );
        let concat = |out: &mut String, dash: usize, items: &[u32], texts: &Texts| {
            debug_assert_eq!(dash, DASH);
            for &i in items {
                out.push_str(texts.get(i as usize));
            }
        };
        let managed_groups: Vec<u32> = self.groups[x]
            .iter()
            .copied()
            .filter(|&i| m.groups[i as usize].managed)
            .collect();
        quote::top_list(out, "hadeploy_groups", |o, d| {
            concat(o, d, &managed_groups, &self.group_text)
        });
        quote::top_list(out, "hadeploy_users", |o, d| {
            concat(o, d, &self.users[x], &self.user_text)
        });
        let users_of = |o: &mut String, d: usize, texts: &[Option<String>]| {
            debug_assert_eq!(d, DASH);
            for &i in &self.users[x] {
                o.push_str(texts[i as usize].as_deref().unwrap_or_default());
            }
        };
        quote::top_list(out, "hadeploy_authorized_keys", |o, d| users_of(o, d, &self.user_keys));
        quote::top_list(out, "hadeploy_sudoers", |o, d| users_of(o, d, &self.user_sudo));
        quote::top_list(out, "hadeploy_folders", |o, d| {
            concat(o, d, &self.folders[x], &self.folder_text)
        });
        quote::top_list(out, "hadeploy_files", |o, d| {
            concat(o, d, &self.files[x], &self.file_text)
        });
        quote::top_list(out, "hadeploy_supervisors", |o, d| {
            debug_assert_eq!(d, DASH);
            for &(i, _) in &sups {
                o.push_str(self.sup_head.get(i));
                BlockMap::continued(o, DASH + 2).list("processes", |o, d| {
                    debug_assert_eq!(d, PROCESS_DASH);
                    for &p in progs_of(i) {
                        o.push_str(self.prog_procs.get(p as usize));
                    }
                });
            }
        });
        let managed: Vec<u32> = sups.iter().filter(|(_, s)| s.managed).map(|&(i, _)| i as u32).collect();
        quote::top_list(out, "hadeploy_supervisor_dirs", |o, d| {
            concat(o, d, &managed, &self.sup_dirs)
        });
        quote::top_list(out, "hadeploy_supervisor_files", |o, d| {
            concat(o, d, &managed, &self.sup_files)
        });
        quote::top_list(out, "hadeploy_supervisor_remove", |o, d| {
            concat(o, d, &managed, &self.sup_remove)
        });
        quote::top_list(out, "hadeploy_program_log_dirs", |o, d| {
            debug_assert_eq!(d, DASH);
            let mut seen: HashSet<&str> = HashSet::new();
            for &(i, _) in &sups {
                for &p in progs_of(i) {
                    for (path, text) in &self.prog_logs[p as usize] {
                        if seen.insert(path) {
                            o.push_str(text);
                        }
                    }
                }
            }
        });
        quote::top_list(out, "hadeploy_program_files", |o, d| {
            debug_assert_eq!(d, DASH);
            for &(i, _) in &sups {
                for &p in progs_of(i) {
                    o.push_str(self.prog_file.get(p as usize));
                }
                for &g in within(&self.pgroups[x], self.pgroup_base[i]..self.pgroup_base[i + 1]) {
                    o.push_str(self.pgroup_file.get(g as usize));
                }
            }
        });
        Ok(())
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
    fn each_host_lists_its_items_once_in_order() {
        let hosts: HashMap<&str, usize> = [("a", 0), ("b", 1), ("c", 2)].into();
        let s = |hs: &[&str]| hs.iter().map(|h| h.to_string()).collect::<Vec<_>>();
        let scopes = [s(&["b", "a"]), s(&["c", "unknown"]), s(&["a", "b", "a"]), s(&[])];
        let index = by_host(&hosts, scopes.iter().map(Vec::as_slice));
        assert_eq!(index, vec![vec![0, 2], vec![0, 2], vec![1]]);
        assert_eq!(within(&[0, 3, 4, 7, 9], 3..8), &[3, 4, 7]);
        assert_eq!(within(&[0, 9], 1..9), &[] as &[u32]);
    }

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
    fn only_contents_known_before_the_deploy_get_a_checksum() {
        let hello = Some("f572d396fae9206628714fb2ce00f72e94f2258f".to_string());
        // Copied: the bytes, whatever they are.
        assert_eq!(fixed_checksum(b"hello\n", false), hello);
        assert!(fixed_checksum(b"{{ x }}\r\n\xff", false).is_some());
        // Rendered: only what Jinja writes back unchanged.
        assert_eq!(fixed_checksum(b"hello\n", true), hello);
        assert!(fixed_checksum(b"echo ${x} {}\n", true).is_some());
        for dynamic in [&b"{{ x }}"[..], b"{% if a %}", b"n=${#list[@]}", b"a\r\nb", b"\xff"] {
            assert_eq!(
                fixed_checksum(dynamic, true),
                None,
                "{:?}",
                String::from_utf8_lossy(dynamic)
            );
        }
    }
}
