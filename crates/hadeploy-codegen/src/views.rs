//! One view per generated file, built from the model. Templates see only
//! these, never the model itself. Program files, one per program, are
//! written straight to text ([`program_ini`]); the roles' inputs have their own
//! module, `data`.

use std::path::Path;

use hadeploy_model::format::is_var_name;
use hadeploy_model::{ConnValue, FileSource, Ini, LocalSource, Model, Program, Supervisor, is_system_path};
use serde::Serialize;
use serde_json::Value;
use tera::Tera;

use crate::layout::{DATA, SOURCES, file_copy_path, group_file, program_file, runtime_rel, supervisor_dirs};
use crate::quote::{self, IniError, vault_lines};
use crate::templates::{self as t, render};
use crate::{Content, MAX_PROJECT_BYTES, Options, Project, RenderError};

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
    forks: usize,
    vault_identity_list: Option<String>,
}

#[derive(Serialize)]
struct InventoryHost {
    name: String,
    vars: Vec<KeyValue>,
    /// Variables of an Ansible inventory, already written as YAML.
    raw: Vec<KeyText>,
}

/// A key and its value written as YAML text.
#[derive(Serialize)]
struct KeyText {
    key: String,
    text: String,
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
    /// The group of every host, which the playbooks target.
    target_group: &'static str,
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
    target_group: &'static str,
    /// The description's `rolling` batch, as Ansible's `serial` takes it; `0`: all hosts at once.
    rolling: String,
    /// Where a deploy gathers facts: `all` (what it renders reads them),
    /// `forced` (the hosts `force_setup` names), or `none`.
    facts: &'static str,
    /// Whether a host of the inventory names an ssh key file.
    key_files: bool,
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

/// The collection's `galaxy.yml` and `CHANGELOG.md`.
#[derive(Serialize)]
struct GalaxyView {
    version: &'static str,
    /// Where hadeploy's source is, as Galaxy's importer requires.
    repository: &'static str,
}

#[derive(Serialize)]
struct GroupView<'a> {
    name: &'a str,
    supervisor: &'a str,
    programs: Vec<&'a str>,
    priority: Option<i64>,
}

/// Builds every file of the project.
pub struct Renderer<'a> {
    model: &'a Model,
    opts: &'a Options,
    tera: &'a Tera,
    project: Project,
    /// Bytes of the project so far, against [`MAX_PROJECT_BYTES`].
    bytes: usize,
}

impl<'a> Renderer<'a> {
    pub fn new(model: &'a Model, opts: &'a Options, tera: &'a Tera) -> Self {
        Renderer {
            model,
            opts,
            tera,
            project: Project::new(),
            bytes: 0,
        }
    }

    /// Adds a file, within [`MAX_PROJECT_BYTES`] for the whole project: a
    /// long value used in many places on many hosts must not fill the disk.
    fn put(&mut self, path: impl Into<String>, text: impl Into<Vec<u8>>) -> Result<(), RenderError> {
        let (path, text) = (path.into(), text.into());
        self.bytes = self.bytes.saturating_add(text.len());
        if self.bytes > MAX_PROJECT_BYTES {
            return Err(RenderError::TooLarge { at: path });
        }
        self.project.insert(path, Content::Bytes(text));
        Ok(())
    }

    /// The playbooks, once every file they send is in the project: a
    /// deploy gathers facts where what it renders reads them.
    fn playbooks(&mut self) -> Result<(), RenderError> {
        let facts = if self.project.iter().any(|(path, c)| renders_facts(path, c)) {
            "all"
        } else if self.model.hosts.values().any(|h| h.force_setup)
            || self
                .model
                .host_groups
                .values()
                .any(|g| g.force_setup && !g.hosts.is_empty())
        {
            "forced"
        } else {
            "none"
        };
        for pb in t::PLAYBOOKS {
            let text = render(
                self.tera,
                pb,
                &PlaybookView {
                    exit_on_fail: self.model.exit_on_fail,
                    target_group: hadeploy_model::format::TARGET_GROUP,
                    rolling: self.model.rolling.map_or_else(|| "0".to_string(), |b| b.to_string()),
                    facts,
                    key_files: self.model.hosts.values().any(|h| h.ssh_private_key_file.is_some()),
                },
            )?;
            self.put(pb.0, text)?;
        }
        Ok(())
    }

    pub fn render(mut self) -> Result<Project, RenderError> {
        let cfg = render(
            self.tera,
            t::ANSIBLE_CFG,
            &CfgView {
                host_key_checking: self.opts.host_key_checking,
                forks: forks(self.model.hosts.len()),
                vault_identity_list: self.vault_identity_list()?,
            },
        )?;
        self.put(t::ANSIBLE_CFG.0, cfg)?;
        let inv = render(self.tera, t::INVENTORY, &self.inventory())?;
        self.put(t::INVENTORY.0, inv)?;
        let mut vault = Vec::new();
        for (k, v) in &self.model.encrypted_vars {
            vault.push(VaultView {
                key: k.clone(),
                lines: vault_lines(k, v)?,
            });
        }
        let vars = VarsView {
            vars: self.model.vars.iter().map(|(k, v)| kv(k, v.clone())).collect(),
            vault,
        };
        let vars = render(self.tera, t::GROUP_VARS, &vars)?;
        self.put(t::GROUP_VARS.0, vars)?;
        // The collection's files that carry the tool's version.
        for tpl in [t::GALAXY, t::CHANGELOG] {
            let version = GalaxyView {
                version: env!("CARGO_PKG_VERSION"),
                repository: env!("CARGO_PKG_REPOSITORY"),
            };
            let text = render(self.tera, tpl, &version)?;
            self.put(tpl.0, text)?;
        }
        for (path, text) in t::STATIC {
            self.put(path, text)?;
        }
        for (i, f) in self.model.files.iter().enumerate() {
            match &f.src {
                // Streamed when written: only its size and checksum are read now.
                FileSource::File { path } => {
                    let copied = crate::write::copied(path).map_err(|source| RenderError::Read {
                        path: path.clone(),
                        source,
                    })?;
                    self.project
                        .insert(format!("{SOURCES}/{}", file_copy_path(i, f)), Content::Copy(copied));
                }
                FileSource::Template { path } => {
                    let room = MAX_PROJECT_BYTES.saturating_sub(self.bytes);
                    self.put(format!("{SOURCES}/{}", file_copy_path(i, f)), read_within(path, room)?)?;
                }
                FileSource::Url { .. } => {}
            }
        }
        for s in &self.model.supervisors {
            self.supervisor(s)?;
        }
        let data = crate::data::write(self.model, &self.project)?;
        self.put(DATA, data)?;
        self.playbooks()?;
        Ok(self.project)
    }

    /// A local path that stays outside the project (a private key, a vault
    /// password file) as Ansible, running inside the project, must be given
    /// it: a relative path is seen from there; an absolute one stays as written.
    fn seen_from_project(&self, path: &std::path::Path) -> String {
        let p = match (&self.opts.project_dir, &self.opts.source_dir) {
            (Some(dir), Some(base)) if path.is_relative() => crate::relative_to(&base.join(path), &base.join(dir)),
            _ => path.to_path_buf(),
        };
        p.display().to_string()
    }

    /// A key file of the inventory as Ansible finds it whatever folder it
    /// runs from: a relative path is written from the playbooks' folder
    /// (`{{ playbook_dir }}/../keys/id`, which Ansible renders), so that
    /// the project runs from another working folder, and moved with what it
    /// names; the playbooks check that it is there first.
    fn key_seen_from_project(&self, path: &std::path::Path) -> String {
        let seen = self.seen_from_project(path);
        if std::path::Path::new(&seen).is_relative() {
            format!("{{{{ playbook_dir }}}}/{seen}")
        } else {
            seen
        }
    }

    /// Ansible's `vault_identity_list`: `LABEL@FILE` or `LABEL@prompt` for
    /// each inventory that asks for a vault password.
    fn vault_identity_list(&self) -> Result<Option<String>, RenderError> {
        let mut ids = Vec::new();
        for v in &self.model.vault_ids {
            let source = match &v.file {
                Some(f) => self.seen_from_project(f),
                None => "prompt".to_string(),
            };
            // One line of ansible.cfg, split at commas.
            if source.contains([',', '%', '\n', '\r']) || source.trim() != source {
                return Err(RenderError::Value {
                    what: format!("vault password file of `{}`", v.label),
                    reason: "Ansible's configuration cannot hold this path".into(),
                });
            }
            ids.push(format!("{}@{source}", v.label));
        }
        Ok((!ids.is_empty()).then(|| ids.join(", ")))
    }

    fn inventory(&self) -> InventoryView {
        let hosts = self
            .model
            .hosts
            .values()
            .map(|h| {
                let mut vars: Vec<KeyValue> = h
                    .connection_vars()
                    .into_iter()
                    .map(|(k, v)| match v {
                        ConnValue::Text(t) => kv(k, t),
                        ConnValue::Flag(b) => kv(k, b),
                        ConnValue::Port(p) => kv(k, p),
                        ConnValue::LocalPath(p) => kv(k, self.key_seen_from_project(p)),
                    })
                    .collect();
                if !h.privileged {
                    // Not root there: the supervisor role installs no package.
                    vars.push(kv("hadeploy_supervisor_install", false));
                }
                let forced = h.force_setup
                    || self
                        .model
                        .host_groups
                        .values()
                        .any(|g| g.force_setup && g.hosts.contains(&h.name));
                if forced {
                    // Read by deploy.yml: gather facts here.
                    vars.push(kv("hadeploy_force_setup", true));
                }
                // Written as plain YAML keys: the model only lets variable
                // names through; an attribute of the description's wins.
                let raw = h
                    .ansible_vars
                    .iter()
                    .filter(|(k, _)| is_var_name(k) && !vars.iter().any(|v| v.key == **k))
                    .map(|(k, v)| KeyText {
                        key: k.clone(),
                        text: crate::quote::yaml_ansible(v),
                    })
                    .collect();
                InventoryHost {
                    name: h.name.clone(),
                    vars,
                    raw,
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
        InventoryView {
            hosts,
            groups,
            target_group: hadeploy_model::format::TARGET_GROUP,
        }
    }

    fn supervisor(&mut self, s: &Supervisor) -> Result<(), RenderError> {
        let dir = format!("{SOURCES}/supervisors/{}", s.name);
        if s.managed {
            for d in supervisor_dirs(s).iter().chain([&s.conf_file_dst, &s.supervisorctl]) {
                if is_system_path(d) {
                    return Err(RenderError::Value {
                        what: format!("supervisor `{}`", s.name),
                        reason: format!("`{d}` is a system folder: it cannot be owned nor removed by an instance"),
                    });
                }
            }
        }
        let conf = match &s.conf_file_src {
            Some(LocalSource::File(p) | LocalSource::Template(p)) => hadeploy_pass(p, read(p)?, context_of(s, None)?)?,
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
        web_interface_problem(s, &String::from_utf8_lossy(&conf)).map_or(Ok(()), |reason| {
            Err(RenderError::Value {
                what: format!("supervisor `{}`", s.name),
                reason,
            })
        })?;
        self.put(format!("{dir}/supervisord.conf"), conf)?;
        let unit = UnitView {
            name: &s.name,
            user: &s.user,
            group: &s.group,
            conf: &s.conf_file_dst,
            runtime_dirs: runtime_dirs(s),
        };
        let unit = render(self.tera, t::SUPERVISORD_UNIT, &unit)?;
        self.put(format!("{dir}/{}", s.unit), unit)?;
        let ctl = render(self.tera, t::SUPERVISORCTL, &unit_view_ctl(s))?;
        self.put(format!("{dir}/supervisorctl_{}", s.name), ctl)?;
        for p in &s.programs {
            let text = match &p.conf_file_src {
                Some(LocalSource::File(path) | LocalSource::Template(path)) => {
                    hadeploy_pass(path, read(path)?, context_of(s, Some(p))?)?
                }
                None => program_ini(s, p)
                    .map_err(|e| RenderError::Value {
                        what: format!("program `{}` of supervisor `{}`", p.name, s.name),
                        reason: e.0,
                    })?
                    .into_bytes(),
            };
            self.put(format!("{dir}/programs/{}", program_file(&p.name)), text)?;
        }
        for g in &s.groups {
            let view = GroupView {
                name: &g.name,
                supervisor: &s.name,
                programs: g.programs.iter().map(|&i| s.programs[i].name.as_str()).collect(),
                priority: g.priority,
            };
            let text = render(self.tera, t::GROUP_INI, &view)?;
            self.put(format!("{dir}/programs/{}", group_file(&g.name)), text)?;
        }
        Ok(())
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

/// A program's `[program:NAME]` file, written straight to text (there is
/// one per program): every value through the quoting of [`quote`], as the
/// templates' `ini` and `ini_conf` filters do.
/// The first value that cannot be written is the error.
fn program_ini(s: &Supervisor, p: &Program) -> Result<String, IniError> {
    let ini = |v: &str| quote::ini_value(v).map(|v| quote::jinja_literal(&v));
    let mut out = String::with_capacity(512);
    out.push_str("; Generated by hadeploy: program ");
    out.push_str(&ini(&p.name)?);
    out.push_str(" of supervisord instance ");
    out.push_str(&ini(&s.name)?);
    out.push_str(".\n[program:");
    out.push_str(&ini(&p.name)?);
    out.push_str("]\n");
    if let Some(c) = &p.command {
        out.push_str("command=");
        out.push_str(&quote::jinja_literal(&quote::command(c)?));
        out.push('\n');
    }
    // Every setting the model declares, in the order of the file: the
    // first value refused is the error.
    for (key, value) in p.settings.ini_lines() {
        let value = match value {
            None => continue,
            Some(Ini::Plain(v)) => v,
            Some(Ini::Text(t)) => ini(t)?,
            Some(Ini::Format(f)) => quote::jinja_literal(&quote::ini_format(f)?),
            Some(Ini::Codes(c)) => ini(&c.iter().map(u8::to_string).collect::<Vec<_>>().join(","))?,
            Some(Ini::Environment(env)) => {
                let mut pairs = Vec::with_capacity(env.len());
                for (k, v) in env {
                    pairs.push(quote::env_pair(k, v)?);
                }
                quote::jinja_literal(&pairs.join(","))
            }
        };
        out.push_str(key);
        out.push('=');
        out.push_str(&value);
        out.push('\n');
    }
    // As a rendered template: exactly one newline at the end.
    out.truncate(out.trim_end().len());
    out.push('\n');
    Ok(out)
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

/// What is wrong with the web interface a `supervisord.conf` opens, or
/// `None`: whatever wrote it (hadeploy's template or a `conf_file_src`), an
/// `[inet_http_server]` without the `username` and `password` the
/// description gives, or one that listens beyond this host
/// ([`endpoint_is_loopback`](hadeploy_model::format::endpoint_is_loopback))
/// without credentials unless the description says `unauthenticated: yes`.
fn web_interface_problem(s: &Supervisor, conf: &str) -> Option<String> {
    let mut in_inet = false;
    let (mut found, mut port, mut username, mut password) = (false, None, false, false);
    for line in conf.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_inet = line.trim_end() == "[inet_http_server]";
            found |= in_inet;
            continue;
        }
        let Some((key, value)) = line.split_once('=').filter(|_| in_inet) else {
            continue;
        };
        // supervisor's parser cuts a value at ` ;`.
        let value = value.split(" ;").next().unwrap_or_default().trim();
        match key.trim() {
            "port" => port = Some(value.to_string()),
            "username" => username = !value.is_empty(),
            "password" => password = !value.is_empty(),
            _ => {}
        }
    }
    if !found {
        return None;
    }
    let http = s.http_server.as_ref();
    if http.is_some_and(|h| h.auth.is_some()) && !(username && password) {
        return Some(
            "its `supervisord.conf` opens a web interface without the `username` and `password` the description \
             gives: write them in its `[inet_http_server]` (`{{{ http_server.username }}}`, \
             `{{{ http_server.password }}}`)"
                .into(),
        );
    }
    let open = !(username && password);
    let local = port
        .as_deref()
        .is_some_and(hadeploy_model::format::endpoint_is_loopback);
    if open && !local && !http.is_some_and(|h| h.unauthenticated) {
        return Some(format!(
            "its `supervisord.conf` opens a web interface on `{}` without a user name and password: anyone who \
             reaches the host could stop and start its programs; give `http_server` a `password`, or say \
             `unauthenticated: yes` to open it on purpose",
            port.unwrap_or_default()
        ));
    }
    None
}

/// The variables a `conf_file_src` template sees in HADeploy's first pass,
/// as HADeploy's own templates read them (`lib/hadeploy/plugins/supervisor`):
/// the supervisor's settings (name, user, group, folders, `scope` as
/// written, `http_server` with `endpoint`, `username` and `password`, the
/// value written) and, for a program, the program's, its settings at the
/// top level as HADeploy's items held them, `environment` as its list of
/// `KEY="value"`, `supervisor` (the name), and the attributes HADeploy
/// added (`conf_file_dst`, `supervisorOwner`, `supervisorGroup`,
/// `supervisorConf`, `_name_`); values not given are absent, so that
/// `{{% if numprocs is defined %}}` works as there.
fn context_of(s: &Supervisor, p: Option<&Program>) -> Result<serde_json::Map<String, Value>, RenderError> {
    fn set(map: &mut serde_json::Map<String, Value>, v: Value) {
        if let Value::Object(o) = v {
            for (k, v) in o {
                if !v.is_null() {
                    map.insert(k, v);
                }
            }
        }
    }
    let mut map = serde_json::Map::new();
    let mut sup = serde_json::to_value(s).unwrap_or(Value::Null);
    // HADeploy's names: `http_server.username` and `.password` (the value
    // written, `{SHA}` and its hash).
    if let (Some(h), Some(o)) = (&s.http_server, sup.as_object_mut()) {
        let mut http = serde_json::json!({ "endpoint": h.endpoint });
        if let Some(a) = &h.auth {
            http["username"] = Value::String(a.username.clone());
            http["password"] = Value::String(a.password_sha1.clone());
        }
        o.insert("http_server".into(), http);
    }
    if let Some(o) = sup.as_object_mut() {
        o.insert("scope".into(), Value::String(crate::data::scope_text(&s.scope)));
    }
    match p {
        None => set(&mut map, sup),
        Some(p) => {
            let mut prog = serde_json::to_value(p).unwrap_or(Value::Null);
            let settings = prog.as_object_mut().and_then(|o| o.remove("settings"));
            set(&mut map, prog);
            set(&mut map, settings.unwrap_or(Value::Null));
            let environment = p
                .settings
                .environment
                .iter()
                .map(|(k, v)| quote::env_pair(k, v).map(Value::String))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| RenderError::Value {
                    what: format!("program `{}`", p.name),
                    reason: e.0,
                })?;
            if environment.is_empty() {
                map.remove("environment");
            } else {
                map.insert("environment".into(), Value::Array(environment));
            }
            let name = if p.settings.numprocs > 1 {
                format!("{}:", p.name)
            } else {
                p.name.clone()
            };
            for (k, v) in [
                ("scope", crate::data::scope_text(&p.scope)),
                ("supervisor", s.name.clone()),
                ("conf_file_dst", format!("{}/{}", s.include_dir, program_file(&p.name))),
                ("supervisorOwner", s.user.clone()),
                ("supervisorGroup", s.group.clone()),
                ("supervisorConf", s.conf_file_dst.clone()),
                ("_name_", name),
            ] {
                map.insert(k.into(), Value::String(v));
            }
        }
    }
    Ok(map)
}

/// HADeploy's first pass over a `conf_file_src` file: `{{{ name }}}`,
/// `{{% if ... %}}` and `{{# ... #}}` rendered now, with [`context_of`],
/// undefined variables as errors; Ansible's `{{ }}` is left for the host.
/// A file without those markers is taken as it is.
fn hadeploy_pass(path: &Path, bytes: Vec<u8>, ctx: serde_json::Map<String, Value>) -> Result<Vec<u8>, RenderError> {
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(bytes);
    };
    if !(text.contains("{{{") || text.contains("{{%") || text.contains("{{#")) {
        return Ok(bytes);
    }
    let mut env = minijinja::Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .variable_delimiters("{{{", "}}}")
        .block_delimiters("{{%", "%}}")
        .comment_delimiters("{{#", "#}}")
        .trim_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .expect("distinct start markers");
    env.set_syntax(syntax);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_fuel(Some(1_000_000));
    // What is inserted is data for the second pass, Ansible's: no `{` of it
    // may start an expression there but a variable read the model allowed,
    // alone or with what is beside it.
    env.set_formatter(|out, _, value| {
        let text = if value.is_undefined() {
            String::new()
        } else {
            value.to_string()
        };
        out.write_str(&hadeploy_model::expr::literal_braces(&text))
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))
    });
    // An undefined name: say which exist (names, never values).
    let known = {
        let mut names: Vec<&str> = ctx.keys().map(String::as_str).collect();
        names.sort_unstable();
        names.join(", ")
    };
    let fail = |e: minijinja::Error| {
        let undefined = matches!(e.kind(), minijinja::ErrorKind::UndefinedError);
        let mut message = match (e.line(), e.detail()) {
            (Some(l), Some(d)) => format!("line {l}: {}: {d}", e.kind()),
            (Some(l), None) => format!("line {l}: {}", e.kind()),
            (None, _) => e.to_string(),
        };
        if undefined {
            if let Some(what) = e.line().and_then(|l| text.lines().nth(l - 1)).and_then(first_reference) {
                message.push_str(&format!(" (`{what}`)"));
            }
            message.push_str(&format!("; the attributes this template sees are: {known}"));
        }
        RenderError::Template {
            template: path.display().to_string(),
            message,
        }
    };
    let ctx = minijinja::Value::from(minijinja::value::Serde(Value::Object(ctx)));
    env.render_str(text, ctx).map(String::into_bytes).map_err(fail)
}

/// The first `{{{ ... }}}` of a template's line, trimmed: what an undefined
/// value error is about (minijinja names the line, not the expression).
fn first_reference(line: &str) -> Option<&str> {
    let start = line.find("{{{")? + 3;
    let len = line[start..].find("}}}")?;
    Some(line[start..start + len].trim())
}

/// Reads a local source that goes into the project whole, refusing it
/// before reading when it is larger than `room`.
fn read_within(path: &Path, room: usize) -> Result<Vec<u8>, RenderError> {
    let len = std::fs::metadata(path).map_err(|source| RenderError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if usize::try_from(len.len()).unwrap_or(usize::MAX) > room {
        return Err(RenderError::TooLarge {
            at: path.display().to_string(),
        });
    }
    read(path)
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, RenderError> {
    std::fs::read(path).map_err(|source| RenderError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Whether a file of the project, one that Ansible renders (a template, a
/// program or supervisord file, the roles' inputs, the variables), reads
/// Ansible facts: `ansible_facts`, `hostvars`, or an `ansible_` variable
/// that is neither a connection variable nor one of Ansible's magic ones.
/// A copied file (streamed, not held) is not read.
fn renders_facts(path: &str, content: &Content) -> bool {
    let rendered = path.starts_with(&format!("{SOURCES}/")) || path == DATA || path == t::GROUP_VARS.0;
    let Some(text) = content
        .as_bytes()
        .filter(|_| rendered)
        .and_then(|b| std::str::from_utf8(b).ok())
    else {
        return false;
    };
    reads_facts(text)
}

/// Whether `text` names an Ansible fact (see [`renders_facts`]).
pub(crate) fn reads_facts(text: &str) -> bool {
    const NOT_FACTS: &[&str] = &[
        "ansible_connection",
        "ansible_check_mode",
        "ansible_diff_mode",
        "ansible_run_tags",
        "ansible_skip_tags",
        "ansible_limit",
        "ansible_forks",
        "ansible_version",
        "ansible_inventory_sources",
        "ansible_config_file",
        "ansible_playbook_python",
        "ansible_verbosity",
    ];
    const NOT_FACT_PREFIXES: &[&str] = &["ansible_ssh_", "ansible_become", "ansible_play_", "ansible_loop"];
    if text.contains("hostvars") || text.contains("ansible_facts") {
        return true;
    }
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find("ansible_") {
        let start = from + at;
        let end = start
            + b[start..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
        let word = &text[start..end];
        let whole = start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        let connection = hadeploy_model::format::ANSIBLE_NAMES.iter().any(|(n, _)| *n == word)
            || NOT_FACTS.contains(&word)
            || NOT_FACT_PREFIXES.iter().any(|p| word.starts_with(p));
        if whole && word.len() > "ansible_".len() && !connection {
            return true;
        }
        from = end.max(start + 1);
    }
    false
}

/// Most hosts Ansible works on at once.
const MAX_FORKS: usize = 50;

/// Ansible's `forks`: every host at once (at least Ansible's default of 5),
/// up to [`MAX_FORKS`], so that a run takes about as long on nine hosts as
/// on two while the controller's processes stay bounded.
fn forks(hosts: usize) -> usize {
    hosts.clamp(5, MAX_FORKS)
}

/// What belongs to the system, from [`hadeploy_model::system`], as the
/// collection's action plugin imports it (`module_utils/system_paths.py`):
/// it checks the paths Ansible renders on a host against it
/// (`host_path_refused`), as the others are checked when the project is
/// generated. Kept in `roles-templates/`, which projects copy; a test
/// checks it is what this writes.
#[cfg(test)]
const SYSTEM_PATHS: &str = "plugins/module_utils/system_paths.py";

#[cfg(test)]
fn system_paths() -> String {
    use hadeploy_model::system::{LIB_DIRS, SYSTEM_DIRS, SYSTEM_FILES, SYSTEM_TREES};
    let mut out = String::from(
        "# -*- coding: utf-8 -*-\n\
         # Generated by hadeploy from crates/hadeploy-model/src/system.rs (`HADEPLOY_BLESS=1\n\
         # cargo test -p hadeploy-codegen system_paths`): the folders and files of the\n\
         # system, which no path of a description may be, once Ansible renders it.\n\n\
         from __future__ import absolute_import, division, print_function\n\n\
         __metaclass__ = type\n",
    );
    for (name, doc, list) in [
        (
            "SYSTEM_DIRS",
            "Folders of the system.",
            [SYSTEM_DIRS, LIB_DIRS].concat(),
        ),
        ("SYSTEM_FILES", "Files of the system.", SYSTEM_FILES.to_vec()),
        (
            "SYSTEM_TREES",
            "Folders whose whole content is the system's.",
            SYSTEM_TREES.to_vec(),
        ),
    ] {
        out.push_str(&format!("\n# {doc}\n{name} = frozenset([\n"));
        for p in list {
            out.push_str(&format!(
                "    {},\n",
                serde_json::to_string(p).expect("a string serializes")
            ));
        }
        out.push_str("])\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use hadeploy_model::SrcArg;

    /// The collection's list of the system's folders and files is what the
    /// model holds. `HADEPLOY_BLESS=1 cargo test -p hadeploy-codegen
    /// system_paths` writes it again after a change of the model's lists.
    #[test]
    fn system_paths_are_written_from_the_model() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../roles-templates")
            .join(crate::templates::COLLECTION)
            .join(super::SYSTEM_PATHS);
        let want = super::system_paths();
        if std::env::var_os("HADEPLOY_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
        }
        assert!(
            std::fs::read_to_string(&path).unwrap_or_default() == want,
            "{} is not the model's: HADEPLOY_BLESS=1 cargo test -p hadeploy-codegen system_paths",
            path.display()
        );
    }

    #[test]
    fn facts_are_what_names_them() {
        for yes in [
            "{{ ansible_fqdn }}",
            "{{ hostvars[h]['ansible_default_ipv4'] }}",
            "x {{ ansible_facts.hostname }}",
            "{{ ansible_hostname }}",
        ] {
            assert!(super::reads_facts(yes), "{yes}");
        }
        for no in [
            "{{ ansible_host }}",
            "ansible_user: x",
            "{{ ansible_check_mode }}",
            "my_ansible_fqdn",
            "ansible_",
        ] {
            assert!(!super::reads_facts(no), "{no}");
        }
    }

    #[test]
    fn forks_follow_the_number_of_hosts_within_bounds() {
        assert_eq!([1, 2, 5, 9, 50, 51, 1000].map(super::forks), [5, 5, 5, 9, 50, 50, 50]);
    }

    /// A program with every setting: the file the `program.ini` template
    /// wrote, byte for byte.
    #[test]
    fn a_program_file_holds_every_setting_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let app = tmp.path().join("app.yml");
        std::fs::write(&app, DESCRIPTION).unwrap();
        let model = hadeploy_model::load(&[SrcArg::File(app)]).unwrap_or_else(|d| panic!("{d}"));
        let project = crate::render(&model, &crate::Options::default()).unwrap();
        let ini = String::from_utf8(
            project["files/supervisors/sv/programs/p_prg.ini"]
                .as_bytes()
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        assert_eq!(ini, EXPECTED);
    }

    /// Each setting of the model's `ProgramSettings` is a key a
    /// `supervisor_programs` item takes, set by the description above, and a
    /// line of the file it gives: declared once (`program_settings.rs`), a
    /// setting is not half added, and this test asks for its case.
    #[test]
    fn every_program_setting_is_a_key_and_a_line_of_the_file() {
        let fields = serde_json::to_value(hadeploy_model::ProgramSettings::default()).unwrap();
        let fields: Vec<&String> = fields.as_object().unwrap().keys().collect();
        assert!(fields.len() >= 24, "{fields:?}");
        for f in fields {
            assert!(
                hadeploy_model::format::PROGRAM.get(f).is_some(),
                "{f}: no key of a `supervisor_programs` item"
            );
            assert!(
                DESCRIPTION.contains(&format!("\n  {f}: ")),
                "{f}: not set by DESCRIPTION"
            );
            assert!(EXPECTED.contains(&format!("\n{f}=")), "{f}: no line of EXPECTED");
        }
    }

    const DESCRIPTION: &str = r#"hosts: [{ name: h1 }]
supervisors: [{ name: sv, scope: all, user: u, group: u }]
supervisor_programs:
- name: p
  supervisor: sv
  command: "/bin/sh -c 'echo a ; b' 50%"
  process_name: "%(program_name)s_%(process_num)02d"
  numprocs: 2
  numprocs_start: 3
  priority: 7
  autostart: no
  startsecs: 4
  startretries: 5
  autorestart: unexpected
  exitcodes: [0, 2]
  stopsignal: INT
  stopwaitsecs: 9
  stopasgroup: yes
  killasgroup: no
  user: u
  redirect_stderr: yes
  stdout_logfile: /var/log/p/out.log
  stdout_logfile_maxbytes: 1MB
  stdout_logfile_backups: 2
  stdout_syslog: yes
  stderr_logfile: /var/log/p/err.log
  stderr_logfile_maxbytes: 2MB
  stderr_logfile_backups: 3
  stderr_syslog: no
  directory: /srv/p
  umask: "022"
  environment: ['A=1', 'B=x y {% z', "C=it's"]
"#;

    const EXPECTED: &str = r#"; Generated by hadeploy: program p of supervisord instance sv.
[program:p]
command=/bin/sh -c 'echo a '\;' b' 50%%
process_name=%(program_name)s_%(process_num)02d
numprocs=2
numprocs_start=3
priority=7
autostart=false
startsecs=4
startretries=5
autorestart=unexpected
exitcodes=0,2
stopsignal=INT
stopwaitsecs=9
stopasgroup=true
killasgroup=false
user=u
redirect_stderr=true
stdout_logfile=/var/log/p/out.log
stdout_logfile_maxbytes=1MB
stdout_logfile_backups=2
stdout_syslog=true
stderr_logfile=/var/log/p/err.log
stderr_logfile_maxbytes=2MB
stderr_logfile_backups=3
stderr_syslog=false
directory=/srv/p
umask=022
environment=A="1",B="x y {{ '{%' }}% z",C="it's"
"#;
}
