//! One view per generated file, built from the model. Templates see only
//! these, never the model itself.

use std::collections::BTreeSet;
use std::path::Path;

use hadeploy_model::{FileSource, Host, LocalSource, Model, Program, SYSTEM_DIRS, State, Supervisor};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tera::Tera;

use crate::templates::{self as t, render};
use crate::{Options, Project, RenderError};

/// A variable name, safe as a plain YAML key.
fn is_var_name(k: &str) -> bool {
    k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Characters written unquoted into systemd units and shell scripts.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_.@/+:-".contains(c)
}

#[derive(Serialize)]
struct KeyValue {
    key: String,
    value: Value,
}

fn kv(key: &str, value: impl Into<Value>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: value.into(),
    }
}

#[derive(Serialize)]
struct CfgView {
    host_key_checking: Option<bool>,
}

#[derive(Serialize)]
struct InventoryHost {
    name: String,
    vars: Vec<KeyValue>,
}

#[derive(Serialize)]
struct InventoryGroup {
    name: String,
    hosts: Vec<String>,
    children: Vec<String>,
}

#[derive(Serialize)]
struct InventoryView {
    hosts: Vec<InventoryHost>,
    groups: Vec<InventoryGroup>,
}

#[derive(Serialize)]
struct VarsView {
    vars: Vec<KeyValue>,
    vault: Vec<VaultView>,
}

/// An encrypted variable: its name and the lines of its vault value.
#[derive(Serialize)]
struct VaultView {
    key: String,
    lines: Vec<String>,
}

#[derive(Serialize)]
struct PlaybookView {
    exit_on_fail: bool,
}

#[derive(Serialize)]
struct HostVarsView {
    host: String,
    scalars: Vec<KeyValue>,
    lists: Vec<ListView>,
}

#[derive(Serialize)]
struct ListView {
    key: &'static str,
    items: Vec<Value>,
}

#[derive(Serialize)]
struct HttpView {
    endpoint: String,
    username: Option<String>,
    password: Option<String>,
}

#[derive(Serialize)]
struct SupervisordConfView<'a> {
    name: &'a str,
    user: &'a str,
    group: &'a str,
    socket: &'a str,
    logs_dir: &'a str,
    pid_file: &'a str,
    include_dir: &'a str,
    http: Option<HttpView>,
}

#[derive(Serialize)]
struct UnitView<'a> {
    name: &'a str,
    user: &'a str,
    group: &'a str,
    conf: &'a str,
    runtime_dirs: Vec<String>,
}

#[derive(Serialize)]
struct ProgramView<'a> {
    name: &'a str,
    supervisor: &'a str,
    command: Option<&'a str>,
    settings: Vec<KeyValue>,
    environment: &'a indexmap::IndexMap<String, String>,
}

#[derive(Serialize)]
struct GroupView<'a> {
    name: &'a str,
    supervisor: &'a str,
    programs: &'a [String],
    priority: Option<i64>,
}

/// Builds every file of the project.
pub struct Renderer<'a> {
    model: &'a Model,
    opts: &'a Options,
    tera: &'a Tera,
    project: Project,
}

impl<'a> Renderer<'a> {
    pub fn new(model: &'a Model, opts: &'a Options, tera: &'a Tera) -> Self {
        Renderer {
            model,
            opts,
            tera,
            project: Project::new(),
        }
    }

    fn put(&mut self, path: impl Into<String>, text: impl Into<Vec<u8>>) {
        self.project.insert(path.into(), text.into());
    }

    pub fn render(mut self) -> Result<Project, RenderError> {
        let cfg = render(
            self.tera,
            t::ANSIBLE_CFG,
            &CfgView {
                host_key_checking: self.opts.host_key_checking,
            },
        )?;
        self.put(t::ANSIBLE_CFG.0, cfg);
        let inv = render(self.tera, t::INVENTORY, &self.inventory())?;
        self.put(t::INVENTORY.0, inv);
        let mut vault = Vec::new();
        for (k, v) in &self.model.encrypted_vars {
            // Written unquoted in a block scalar: a vault holds nothing else.
            let lines: Vec<String> = v.lines().map(str::to_string).collect();
            let safe = |l: &String| l.chars().all(|c| c.is_ascii_alphanumeric() || "$;._@-".contains(c));
            if !is_var_name(k) || lines.is_empty() || !lines.iter().all(safe) {
                return Err(RenderError::Value {
                    what: format!("encrypted variable `{k}`"),
                    reason: "it is not an Ansible Vault value".into(),
                });
            }
            vault.push(VaultView { key: k.clone(), lines });
        }
        let vars = VarsView {
            vars: self.model.vars.iter().map(|(k, v)| kv(k, v.clone())).collect(),
            vault,
        };
        let vars = render(self.tera, t::GROUP_VARS, &vars)?;
        self.put(t::GROUP_VARS.0, vars);
        for pb in t::PLAYBOOKS {
            let text = render(
                self.tera,
                pb,
                &PlaybookView {
                    exit_on_fail: self.model.exit_on_fail,
                },
            )?;
            self.put(pb.0, text);
        }
        for (path, text) in t::STATIC {
            self.put(path, text);
        }
        for (i, f) in self.model.files.iter().enumerate() {
            if let FileSource::File { path } | FileSource::Template { path } = &f.src {
                let dest = file_copy_path(i, f);
                self.put(dest, read(path)?);
            }
        }
        for s in &self.model.supervisors {
            self.supervisor(s)?;
        }
        for h in self.model.hosts.values() {
            if !h.name.chars().all(is_word_char) || h.name.contains('/') || h.name.starts_with('.') {
                return Err(RenderError::Value {
                    what: format!("host `{}`", h.name),
                    reason: "its name cannot be a file name in host_vars/".into(),
                });
            }
            let view = self.host_vars(h)?;
            let text = render(self.tera, t::HOST_VARS, &view)?;
            self.put(format!("host_vars/{}.yml", h.name), text);
        }
        Ok(self.project)
    }

    fn inventory(&self) -> InventoryView {
        let hosts = self
            .model
            .hosts
            .values()
            .map(|h| {
                let mut vars = Vec::new();
                let s = |vars: &mut Vec<KeyValue>, k: &str, v: &Option<String>| {
                    if let Some(v) = v {
                        vars.push(kv(k, v.as_str()));
                    }
                };
                s(&mut vars, "ansible_host", &h.ssh_host);
                s(&mut vars, "ansible_user", &h.ssh_user);
                if let Some(p) = h.ssh_port {
                    vars.push(kv("ansible_port", p));
                }
                if let Some(k) = &h.ssh_private_key_file {
                    let k = match (&self.opts.project_dir, &self.opts.source_dir) {
                        (Some(dir), Some(base)) => crate::relative_to(&base.join(k), &base.join(dir)),
                        _ => k.clone(),
                    };
                    vars.push(kv("ansible_ssh_private_key_file", k.display().to_string()));
                }
                s(&mut vars, "ansible_password", &h.ssh_password);
                s(&mut vars, "ansible_ssh_extra_args", &h.ssh_extra_args);
                s(&mut vars, "ansible_ssh_common_args", &h.ssh_common_args);
                s(&mut vars, "ansible_sftp_extra_args", &h.sftp_extra_args);
                s(&mut vars, "ansible_scp_extra_args", &h.scp_extra_args);
                if let Some(p) = h.ssh_pipelining {
                    vars.push(kv("ansible_ssh_pipelining", p));
                }
                s(&mut vars, "ansible_ssh_executable", &h.ssh_executable);
                if let Some(b) = h.r#become {
                    vars.push(kv("ansible_become", b));
                }
                s(&mut vars, "ansible_become_method", &h.become_method);
                s(&mut vars, "ansible_become_user", &h.become_user);
                s(&mut vars, "ansible_become_password", &h.become_pass);
                s(&mut vars, "ansible_become_exe", &h.become_exe);
                s(&mut vars, "ansible_become_flags", &h.become_flags);
                s(&mut vars, "ansible_python_interpreter", &h.python_interpreter);
                // Written as plain YAML keys: the model only lets variable names through.
                for (k, v) in h.ansible_vars.iter().filter(|(k, _)| is_var_name(k)) {
                    vars.push(kv(k, v.as_str()));
                }
                InventoryHost {
                    name: h.name.clone(),
                    vars,
                }
            })
            .collect();
        let groups = self
            .model
            .host_groups
            .values()
            .filter(|g| g.name != "all")
            .map(|g| InventoryGroup {
                name: g.name.clone(),
                hosts: g.direct_hosts.clone(),
                children: g.children.clone(),
            })
            .collect();
        InventoryView { hosts, groups }
    }

    fn supervisor(&mut self, s: &Supervisor) -> Result<(), RenderError> {
        let dir = format!("supervisors/{}", s.name);
        if s.managed {
            for d in supervisor_dirs(s).iter().chain([&s.conf_file_dst, &s.supervisorctl]) {
                let d = d.trim_end_matches('/');
                if d.is_empty() || SYSTEM_DIRS.contains(&d) {
                    return Err(RenderError::Value {
                        what: format!("supervisor `{}`", s.name),
                        reason: format!("`{d}` is a system folder: it cannot be owned nor removed by an instance"),
                    });
                }
            }
        }
        let conf = match &s.conf_file_src {
            Some(LocalSource::File(p) | LocalSource::Template(p)) => read(p)?,
            None => {
                let http = s.http_server.as_ref().map(|h| HttpView {
                    endpoint: h.endpoint.clone(),
                    username: h.auth.as_ref().map(|a| a.username.clone()),
                    password: h.auth.as_ref().map(|a| a.password_sha1.clone()),
                });
                let view = SupervisordConfView {
                    name: &s.name,
                    user: &s.user,
                    group: &s.group,
                    socket: &s.socket,
                    logs_dir: &s.logs_dir,
                    pid_file: &s.pid_file,
                    include_dir: &s.include_dir,
                    http,
                };
                render(self.tera, t::SUPERVISORD_CONF, &view)?.into_bytes()
            }
        };
        self.put(format!("{dir}/supervisord.conf"), conf);
        let unit = UnitView {
            name: &s.name,
            user: &s.user,
            group: &s.group,
            conf: &s.conf_file_dst,
            runtime_dirs: runtime_dirs(s),
        };
        let unit = render(self.tera, t::SUPERVISORD_UNIT, &unit)?;
        self.put(format!("{dir}/{}", s.unit), unit);
        let ctl = render(self.tera, t::SUPERVISORCTL, &unit_view_ctl(s))?;
        self.put(format!("{dir}/supervisorctl_{}", s.name), ctl);
        for p in &s.programs {
            let text = match &p.conf_file_src {
                Some(LocalSource::File(path) | LocalSource::Template(path)) => read(path)?,
                None => render(self.tera, t::PROGRAM_INI, &program_view(s, p))
                    .map_err(|e| in_program(s, p, e))?
                    .into_bytes(),
            };
            self.put(format!("{dir}/programs/{}_prg.ini", p.name), text);
        }
        for g in &s.groups {
            let view = GroupView {
                name: &g.name,
                supervisor: &s.name,
                programs: &g.programs,
                priority: g.priority,
            };
            let text = render(self.tera, t::GROUP_INI, &view)?;
            self.put(format!("{dir}/programs/{}_grp.ini", g.name), text);
        }
        Ok(())
    }

    fn host_vars(&self, h: &Host) -> Result<HostVarsView, RenderError> {
        let m = self.model;
        let on = |hosts: &[String]| hosts.contains(&h.name);
        let mut lists: Vec<ListView> = Vec::new();
        let mut list = |key: &'static str, items: Vec<Value>| lists.push(ListView { key, items });

        list(
            "hadeploy_groups",
            m.groups
                .iter()
                .filter(|g| g.managed && on(&g.scope.hosts))
                .map(|g| json!({"name": g.name, "system": g.system, "no_remove": g.no_remove}))
                .collect(),
        );
        let users: Vec<_> = m.users.iter().filter(|u| on(&u.scope.hosts)).collect();
        list(
            "hadeploy_users",
            users
                .iter()
                .map(|u| {
                    let mut o = Map::new();
                    o.insert("login".into(), json!(u.login));
                    o.insert("managed".into(), json!(u.managed));
                    if let Some(c) = &u.comment {
                        o.insert("comment".into(), json!(c));
                    }
                    if let Some(g) = &u.group {
                        o.insert("group".into(), json!(g));
                    }
                    if !u.groups.is_empty() {
                        o.insert("groups".into(), json!(u.groups));
                    }
                    o.insert("system".into(), json!(u.system));
                    o.insert("create_home".into(), json!(u.create_home));
                    if let Some(p) = &u.password {
                        o.insert("password".into(), json!(p));
                    }
                    o.insert("no_remove".into(), json!(u.no_remove));
                    Value::Object(o)
                })
                .collect(),
        );
        let mut keys = Vec::new();
        for u in &users {
            for k in &u.authorized_keys {
                let text = String::from_utf8_lossy(&read(k)?).into_owned();
                for line in text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                {
                    keys.push(json!({"user": u.login, "key": line}));
                }
            }
        }
        list("hadeploy_authorized_keys", keys);
        let mut sudoers = Vec::new();
        for u in users.iter().filter(|u| !u.can_sudo_to.is_empty()) {
            for name in std::iter::once(&u.login).chain(&u.can_sudo_to) {
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                    return Err(RenderError::Value {
                        what: format!("user `{}`", u.login),
                        reason: format!("`{name}` cannot be written in a sudoers rule"),
                    });
                }
            }
            sudoers.push(json!({
                "user": u.login,
                "dest": format!("/etc/sudoers.d/hadeploy_{}", u.login.replace('.', "_")),
                "content": format!("{} ALL=({}) NOPASSWD: ALL\n", u.login, u.can_sudo_to.join(",")),
                "no_remove": u.no_remove,
            }));
        }
        list("hadeploy_sudoers", sudoers);
        let kept: Vec<String> = m
            .folders
            .iter()
            .filter(|f| f.no_remove)
            .map(|f| f.path.clone())
            .chain(m.files.iter().filter(|f| f.no_remove).map(|f| f.dest()))
            .collect();
        list(
            "hadeploy_folders",
            m.folders
                .iter()
                .filter(|f| on(&f.scope.hosts))
                .map(|f| {
                    let prefix = format!("{}/", f.path.trim_end_matches('/'));
                    // Removing a folder would take what is kept inside with it.
                    let keep = f.no_remove || kept.iter().any(|k| k.starts_with(&prefix));
                    json!({"path": f.path, "owner": f.owner, "group": f.group, "mode": f.mode, "no_remove": keep})
                })
                .collect(),
        );
        list(
            "hadeploy_files",
            m.files
                .iter()
                .enumerate()
                .filter(|(_, f)| on(&f.scope.hosts))
                .map(|(i, f)| {
                    let mut o = Map::new();
                    match &f.src {
                        FileSource::File { .. } => {
                            o.insert("kind".into(), json!("copy"));
                            o.insert("src".into(), json!(file_copy_path(i, f)));
                        }
                        FileSource::Template { .. } => {
                            o.insert("kind".into(), json!("template"));
                            o.insert("src".into(), json!(file_copy_path(i, f)));
                        }
                        FileSource::Url {
                            url,
                            validate_certs,
                            force_basic_auth,
                            username,
                            password,
                        } => {
                            o.insert("kind".into(), json!("url"));
                            o.insert("url".into(), json!(url));
                            o.insert("validate_certs".into(), json!(validate_certs));
                            o.insert("force_basic_auth".into(), json!(force_basic_auth));
                            if let Some(u) = username {
                                o.insert("url_username".into(), json!(u));
                            }
                            if let Some(p) = password {
                                o.insert("url_password".into(), json!(p));
                            }
                        }
                    }
                    o.insert("dest".into(), json!(f.dest()));
                    o.insert("owner".into(), json!(f.owner));
                    o.insert("group".into(), json!(f.group));
                    o.insert("mode".into(), json!(f.mode));
                    o.insert("no_remove".into(), json!(f.no_remove));
                    let notify: Vec<Value> = f
                        .notify
                        .iter()
                        .flat_map(|r| {
                            let (s, p) = m.program(r);
                            p.processes.iter().map(move |proc| {
                                json!({"supervisor": s.name, "process": status_name(proc), "group": p.process_group})
                            })
                        })
                        .collect();
                    o.insert("notify".into(), Value::Array(notify));
                    Value::Object(o)
                })
                .collect(),
        );

        let sups: Vec<&Supervisor> = m.supervisors.iter().filter(|s| on(&s.scope.hosts)).collect();
        let mut settle = 0u32;
        list(
            "hadeploy_supervisors",
            sups.iter()
                .map(|s| {
                    let processes: Vec<Value> = s
                        .programs
                        .iter()
                        .filter(|p| on(&p.scope.hosts))
                        .flat_map(|p| {
                            let st = p.settings.effective_startsecs();
                            let tries = p.settings.startretries.unwrap_or(3);
                            settle = settle.max(st * (tries + 1) + tries * (tries + 1) / 2 + 5);
                            p.processes.iter().map(move |proc| {
                                json!({"status": status_name(proc), "state": state(p.state), "group": p.process_group})
                            })
                        })
                        .collect();
                    json!({
                        "name": s.name,
                        "managed": s.managed,
                        "conf": s.conf_file_dst,
                        "unit": s.unit,
                        "unit_path": format!("/etc/systemd/system/{}", s.unit),
                        "state": state(s.state),
                        "enabled": s.enabled,
                        "include_dir": s.include_dir.trim_end_matches('/'),
                        "no_remove": s.no_remove,
                        "processes": processes,
                    })
                })
                .collect(),
        );
        let managed: Vec<&&Supervisor> = sups.iter().filter(|s| s.managed).collect();
        list(
            "hadeploy_supervisor_dirs",
            managed
                .iter()
                .flat_map(|s| {
                    supervisor_dirs(s)
                        .into_iter()
                        .map(|d| json!({"path": d, "owner": s.user, "group": s.group, "mode": "0750"}))
                })
                .collect(),
        );
        list(
            "hadeploy_supervisor_files",
            managed
                .iter()
                .flat_map(|s| {
                    let layout = json!({
                        "name": s.name, "user": s.user, "group": s.group,
                        "conf_file_dst": s.conf_file_dst, "include_dir": s.include_dir, "logs_dir": s.logs_dir,
                        "pid_dir": s.pid_dir, "socks_dir": s.socks_dir, "socket": s.socket, "pid_file": s.pid_file,
                    });
                    let dir = format!("supervisors/{}", s.name);
                    // The web password hash is readable by the instance's group only.
                    let conf_mode =
                        if s.http_server.as_ref().is_some_and(|h| h.auth.is_some()) || s.conf_file_src.is_some() {
                            "0640"
                        } else {
                            "0644"
                        };
                    let copy_conf = matches!(s.conf_file_src, Some(LocalSource::File(_)));
                    [
                        json!({"supervisor": s.name, "src": format!("{dir}/supervisord.conf"), "dest": s.conf_file_dst,
                            "owner": "root", "group": s.group, "mode": conf_mode, "render": !copy_conf,
                            "restart": true, "layout": layout}),
                        json!({"supervisor": s.name, "src": format!("{dir}/{}", s.unit),
                            "dest": format!("/etc/systemd/system/{}", s.unit), "owner": "root", "group": "root",
                            "mode": "0644", "render": true, "restart": true, "layout": layout}),
                        json!({"supervisor": s.name, "src": format!("{dir}/supervisorctl_{}", s.name),
                            "dest": s.supervisorctl, "owner": "root", "group": "root", "mode": "0755",
                            "render": true, "restart": false, "layout": layout}),
                    ]
                })
                .collect(),
        );
        list(
            "hadeploy_supervisor_remove",
            managed
                .iter()
                .filter(|s| !s.no_remove)
                .flat_map(|s| {
                    let mut paths = vec![
                        json!({"path": format!("/etc/systemd/system/{}", s.unit), "unit": true}),
                        json!({"path": s.supervisorctl, "unit": false}),
                        json!({"path": s.conf_file_dst, "unit": false}),
                    ];
                    paths.extend(
                        supervisor_dirs(s)
                            .into_iter()
                            .map(|d| json!({"path": d, "unit": false})),
                    );
                    paths
                })
                .collect(),
        );
        let mut log_dirs = BTreeSet::new();
        let mut log_list = Vec::new();
        for s in &sups {
            for p in s.programs.iter().filter(|p| on(&p.scope.hosts)) {
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
                    if parent == s.logs_dir.trim_end_matches('/') || SYSTEM_DIRS.contains(&parent.as_str()) {
                        continue;
                    }
                    if log_dirs.insert(parent.clone()) {
                        log_list.push(json!({"path": parent, "owner": s.user, "group": s.group}));
                    }
                }
            }
        }
        list("hadeploy_program_log_dirs", log_list);
        let mut prg = Vec::new();
        for s in &sups {
            let dir = format!("supervisors/{}/programs", s.name);
            let inc = s.include_dir.trim_end_matches('/');
            for p in s.programs.iter().filter(|p| on(&p.scope.hosts)) {
                prg.push(json!({
                    "supervisor": s.name, "program": p.name,
                    "src": format!("{dir}/{}_prg.ini", p.name), "dest": format!("{inc}/{}_prg.ini", p.name),
                    "owner": s.user, "group": s.group, "mode": "0640",
                    "render": !matches!(p.conf_file_src, Some(LocalSource::File(_))),
                    "process_group": p.process_group, "no_remove": p.no_remove,
                }));
            }
            for g in s.groups.iter().filter(|g| on(&g.scope.hosts)) {
                prg.push(json!({
                    "supervisor": s.name, "program": g.name,
                    "src": format!("{dir}/{}_grp.ini", g.name), "dest": format!("{inc}/{}_grp.ini", g.name),
                    "owner": s.user, "group": s.group, "mode": "0640", "render": true,
                    "process_group": g.name, "no_remove": g.no_remove,
                }));
            }
        }
        list("hadeploy_program_files", prg);

        let scalars = vec![
            kv("hadeploy_privileged", h.privileged),
            kv("hadeploy_install_supervisor", h.privileged && !managed.is_empty()),
            kv("hadeploy_settle_retries", if settle == 0 { 15 } else { settle }),
        ];
        Ok(HostVarsView {
            host: h.name.clone(),
            scalars,
            lists,
        })
    }
}

fn unit_view_ctl(s: &Supervisor) -> UnitView<'_> {
    UnitView {
        name: &s.name,
        user: &s.user,
        group: &s.group,
        conf: &s.conf_file_dst,
        runtime_dirs: Vec::new(),
    }
}

fn in_program(s: &Supervisor, p: &Program, e: RenderError) -> RenderError {
    match e {
        RenderError::Template { message, .. } => RenderError::Value {
            what: format!("program `{}` of supervisor `{}`", p.name, s.name),
            reason: message,
        },
        e => e,
    }
}

fn program_view<'a>(s: &'a Supervisor, p: &'a Program) -> ProgramView<'a> {
    let st = &p.settings;
    let mut settings = Vec::new();
    let mut opt = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            settings.push(kv(k, v));
        }
    };
    opt("process_name", st.process_name.clone().map(Value::from));
    opt("numprocs", (st.numprocs != 1).then(|| Value::from(st.numprocs)));
    opt("numprocs_start", st.numprocs_start.map(Value::from));
    opt("priority", st.priority.map(Value::from));
    opt("autostart", Some(Value::from(st.autostart)));
    opt("startsecs", st.startsecs.map(Value::from));
    opt("startretries", st.startretries.map(Value::from));
    opt("autorestart", st.autorestart.clone().map(Value::from));
    opt(
        "exitcodes",
        st.exitcodes
            .as_ref()
            .map(|c| Value::from(c.iter().map(u8::to_string).collect::<Vec<_>>().join(","))),
    );
    opt("stopsignal", st.stopsignal.clone().map(Value::from));
    opt("stopwaitsecs", st.stopwaitsecs.map(Value::from));
    opt("stopasgroup", st.stopasgroup.map(Value::from));
    opt("killasgroup", st.killasgroup.map(Value::from));
    opt("user", st.user.clone().map(Value::from));
    opt("redirect_stderr", st.redirect_stderr.map(Value::from));
    opt("stdout_logfile", st.stdout_logfile.clone().map(Value::from));
    opt(
        "stdout_logfile_maxbytes",
        st.stdout_logfile_maxbytes.clone().map(Value::from),
    );
    opt("stdout_logfile_backups", st.stdout_logfile_backups.map(Value::from));
    opt("stderr_logfile", st.stderr_logfile.clone().map(Value::from));
    opt(
        "stderr_logfile_maxbytes",
        st.stderr_logfile_maxbytes.clone().map(Value::from),
    );
    opt("stderr_logfile_backups", st.stderr_logfile_backups.map(Value::from));
    opt("directory", st.directory.clone().map(Value::from));
    opt("umask", st.umask.clone().map(Value::from));
    ProgramView {
        name: &p.name,
        supervisor: &s.name,
        command: p.command.as_deref(),
        settings,
        environment: &st.environment,
    }
}

/// The name `supervisorctl status` prints: `group:process`, or `process`
/// when both are the same.
fn status_name(full: &str) -> String {
    match full.split_once(':') {
        Some((g, p)) if g == p => p.to_string(),
        _ => full.to_string(),
    }
}

fn state(s: State) -> &'static str {
    match s {
        State::Started => "started",
        State::Stopped => "stopped",
        State::Current => "current",
    }
}

/// `RuntimeDirectory=` names: pid and socket folders on tmpfs, which systemd
/// creates at each start, owned by the service's user.
fn runtime_dirs(s: &Supervisor) -> Vec<String> {
    let mut out = Vec::new();
    for d in [&s.pid_dir, &s.socks_dir] {
        if let Some(rel) = runtime_rel(d)
            && !out.contains(&rel)
        {
            out.push(rel);
        }
    }
    out
}

fn runtime_rel(d: &str) -> Option<String> {
    let d = d.trim_end_matches('/');
    d.strip_prefix("/run/")
        .or_else(|| d.strip_prefix("/var/run/"))
        .map(str::to_string)
}

/// Folders an instance owns: logs, includes, and pid/socket folders that are
/// not created by systemd.
fn supervisor_dirs(s: &Supervisor) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in [&s.logs_dir, &s.include_dir, &s.pid_dir, &s.socks_dir] {
        let d = d.trim_end_matches('/').to_string();
        if runtime_rel(&d).is_none() && !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

fn file_copy_path(i: usize, f: &hadeploy_model::File) -> String {
    let (folder, path) = match &f.src {
        FileSource::File { path } => ("files", path),
        FileSource::Template { path } => ("templates", path),
        FileSource::Url { .. } => unreachable!("downloaded files are not copied"),
    };
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{folder}/{i:02}_{base}")
}

fn read(path: &Path) -> Result<Vec<u8>, RenderError> {
    std::fs::read(path).map_err(|source| RenderError::Read {
        path: path.to_path_buf(),
        source,
    })
}
