//! The resolved model: every default applied, every name resolved, every rule
//! checked. Code generation reads only this.
//!
//! Every path on the hosts is absolute and normalised by
//! [`normal_path`](crate::system::normal_path) (no `//`, `/./` nor trailing
//! `/`); one holding an Ansible expression ([`rendered_on_host`](crate::system::rendered_on_host))
//! is kept as written, without a trailing `/`.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Serialize;

pub use crate::program_settings::Ini;

/// A validated application description.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// Stop every host at the first failure.
    pub exit_on_fail: bool,
    /// `rolling`: deploys go to this many hosts at a time, each batch
    /// healthy before the next starts; `None` deploys every host at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rolling: Option<Batch>,
    /// `included_scopes`: the scopes to run when the command line names none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub included_scopes: Vec<String>,
    /// `excluded_scopes`: scopes to skip, with the command line's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excluded_scopes: Vec<String>,
    /// Every host, overrides applied, in description order.
    pub hosts: IndexMap<String, Host>,
    /// Every host group with its hosts flattened, `all` included.
    pub host_groups: IndexMap<String, HostGroup>,
    /// The user's variables, typed, for Ansible to see in templates.
    pub vars: IndexMap<String, serde_json::Value>,
    /// Where each variable got its value (`--action dumpvars`): a file, or
    /// `<command line>`.
    #[serde(skip)]
    pub var_files: IndexMap<String, PathBuf>,
    /// Variables whose values are Ansible Vault values, as written (the
    /// `$ANSIBLE_VAULT;...` header and hex lines): never decrypted here,
    /// written for Ansible to decrypt when it runs.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub encrypted_vars: IndexMap<String, String>,
    /// The vault passwords Ansible asks for when it runs, from the
    /// inventories' `vault_password_file` and `ask_vault_password`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vault_ids: Vec<VaultId>,
    /// Unix groups to create.
    pub groups: Vec<UnixGroup>,
    /// Unix users to create or adjust.
    pub users: Vec<User>,
    /// Folders to create.
    pub folders: Vec<Folder>,
    /// Files to copy, render or download.
    pub files: Vec<File>,
    /// supervisord instances, each with its programs and groups.
    pub supervisors: Vec<Supervisor>,
}

/// A vault password Ansible is given when it runs (`--vault-id LABEL@SOURCE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultId {
    /// The inventory's `name` (Ansible shows it when it prompts), or `default`.
    pub label: String,
    /// The file holding the password (or the script printing it); `None`
    /// to prompt for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

/// A target host and how to reach it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Host {
    /// The inventory name.
    pub name: String,
    /// Address to connect to (`ansible_host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_host: Option<String>,
    /// Remote user (`ansible_user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_user: Option<String>,
    /// Private key, resolved against the file that named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_private_key_file: Option<PathBuf>,
    /// Password (`ansible_password`); prefer keys or a vault value.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "redact")]
    pub ssh_password: Option<String>,
    /// Port (`ansible_port`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_port: Option<u16>,
    /// `ansible_ssh_extra_args`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_extra_args: Option<String>,
    /// `ansible_ssh_common_args`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_common_args: Option<String>,
    /// `ansible_sftp_extra_args`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sftp_extra_args: Option<String>,
    /// `ansible_scp_extra_args`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scp_extra_args: Option<String>,
    /// `ansible_ssh_pipelining`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_pipelining: Option<bool>,
    /// `ansible_ssh_executable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_executable: Option<String>,
    /// `ansible_become`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#become: Option<bool>,
    /// `ansible_become_method`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub become_method: Option<String>,
    /// `ansible_become_user`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub become_user: Option<String>,
    /// `ansible_become_password`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "redact")]
    pub become_pass: Option<String>,
    /// `ansible_become_exe`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub become_exe: Option<String>,
    /// `ansible_become_flags`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub become_flags: Option<String>,
    /// `ansible_python_interpreter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python_interpreter: Option<String>,
    /// Root is available: tasks that need it (packages, units) run.
    pub privileged: bool,
    /// Gather facts even where no task needs them.
    pub force_setup: bool,
    /// Other variables read from an Ansible inventory, passed through as
    /// Ansible read them (a vault value as `{"__ansible_vault": TEXT}`).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub ansible_vars: IndexMap<String, serde_json::Value>,
}

/// A connection variable's value, as Ansible takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnValue<'a> {
    /// A string.
    Text(&'a str),
    /// A boolean.
    Flag(bool),
    /// A port number.
    Port(u16),
    /// A path of this machine (the private key).
    LocalPath(&'a std::path::Path),
}

/// Ansible's names for the host attributes of a description's hosts
/// ([`HOST_ATTRS`](crate::format::HOST_ATTRS): all but
/// `privileged` and `force_setup`), each attribute's first name the one
/// written into generated inventories, the others read from inventories.
pub const ANSIBLE_NAMES: &[(&str, &str)] = &[
    ("ansible_host", "ssh_host"),
    ("ansible_ssh_host", "ssh_host"),
    ("ansible_user", "ssh_user"),
    ("ansible_ssh_user", "ssh_user"),
    ("ansible_port", "ssh_port"),
    ("ansible_ssh_port", "ssh_port"),
    ("ansible_ssh_private_key_file", "ssh_private_key_file"),
    ("ansible_private_key_file", "ssh_private_key_file"),
    ("ansible_password", "ssh_password"),
    ("ansible_ssh_pass", "ssh_password"),
    ("ansible_ssh_extra_args", "ssh_extra_args"),
    ("ansible_ssh_common_args", "ssh_common_args"),
    ("ansible_sftp_extra_args", "sftp_extra_args"),
    ("ansible_scp_extra_args", "scp_extra_args"),
    ("ansible_ssh_pipelining", "ssh_pipelining"),
    ("ansible_pipelining", "ssh_pipelining"),
    ("ansible_ssh_executable", "ssh_executable"),
    ("ansible_become", "become"),
    ("ansible_become_method", "become_method"),
    ("ansible_become_user", "become_user"),
    ("ansible_become_password", "become_pass"),
    ("ansible_become_pass", "become_pass"),
    ("ansible_become_exe", "become_exe"),
    ("ansible_become_flags", "become_flags"),
    ("ansible_python_interpreter", "python_interpreter"),
];

impl Host {
    /// Ansible's connection variables for the host's attributes, each by
    /// its first name in [`ANSIBLE_NAMES`], in that order.
    pub fn connection_vars(&self) -> Vec<(&'static str, ConnValue<'_>)> {
        let mut seen: Vec<&str> = Vec::new();
        ANSIBLE_NAMES
            .iter()
            .filter(|(_, attr)| {
                let first = !seen.contains(attr);
                seen.push(attr);
                first
            })
            .filter_map(|(name, attr)| self.attr(attr).map(|v| (*name, v)))
            .collect()
    }

    /// The value of the host attribute `attr`, one of
    /// [`ANSIBLE_NAMES`]'.
    fn attr(&self, attr: &str) -> Option<ConnValue<'_>> {
        fn t(v: &Option<String>) -> Option<ConnValue<'_>> {
            v.as_deref().map(ConnValue::Text)
        }
        match attr {
            "ssh_host" => t(&self.ssh_host),
            "ssh_user" => t(&self.ssh_user),
            "ssh_port" => self.ssh_port.map(ConnValue::Port),
            "ssh_private_key_file" => self.ssh_private_key_file.as_deref().map(ConnValue::LocalPath),
            "ssh_password" => t(&self.ssh_password),
            "ssh_extra_args" => t(&self.ssh_extra_args),
            "ssh_common_args" => t(&self.ssh_common_args),
            "sftp_extra_args" => t(&self.sftp_extra_args),
            "scp_extra_args" => t(&self.scp_extra_args),
            "ssh_pipelining" => self.ssh_pipelining.map(ConnValue::Flag),
            "ssh_executable" => t(&self.ssh_executable),
            "become" => self.r#become.map(ConnValue::Flag),
            "become_method" => t(&self.become_method),
            "become_user" => t(&self.become_user),
            "become_pass" => t(&self.become_pass),
            "become_exe" => t(&self.become_exe),
            "become_flags" => t(&self.become_flags),
            "python_interpreter" => t(&self.python_interpreter),
            _ => unreachable!("`{attr}` is no attribute of ANSIBLE_NAMES"),
        }
    }
}

fn redact_url<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::secret::redact_urls(v))
}

fn redact<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("<redacted>"),
        None => s.serialize_none(),
    }
}

/// A named set of hosts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostGroup {
    /// The group name.
    pub name: String,
    /// Hosts named directly.
    pub direct_hosts: Vec<String>,
    /// Groups composed into this one.
    pub children: Vec<String>,
    /// Every host, children flattened, in inventory order.
    pub hosts: Vec<String>,
    /// Gather facts on these hosts even where no task needs them.
    pub force_setup: bool,
}

/// A host of the model: its position in [`Model::hosts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct HostId(pub usize);

/// Where something is deployed: the expression as written and its hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// As written: `all`, a host, a group, or several joined with `:`.
    pub expr: String,
    /// The hosts it resolves to, in inventory order, never empty.
    pub hosts: Vec<HostId>,
}

impl Scope {
    /// True when every host of `other` is in this scope.
    pub fn covers(&self, other: &Scope) -> bool {
        other.hosts.iter().all(|h| self.hosts.contains(h))
    }
}

/// A Unix group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnixGroup {
    /// Group name.
    pub name: String,
    /// A system group.
    pub system: bool,
    /// Created and removed by us; when false it must already exist.
    pub managed: bool,
    /// Hosts it is created on.
    pub scope: Scope,
    /// Kept by `remove`.
    pub no_remove: bool,
}

/// A Unix user account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// Login name.
    pub login: String,
    /// GECOS comment.
    pub comment: Option<String>,
    /// Primary group; the system default when absent.
    pub group: Option<String>,
    /// Supplementary groups.
    pub groups: Vec<String>,
    /// A system account.
    pub system: bool,
    /// Created and removed by us; when false only `authorized_keys` and
    /// `can_sudo_to` are applied, and the account must exist.
    pub managed: bool,
    /// Hosts it is created on.
    pub scope: Scope,
    /// Accounts this user may run commands as through sudo.
    pub can_sudo_to: Vec<String>,
    /// Create the home folder.
    pub create_home: bool,
    /// Password, already crypted.
    #[serde(serialize_with = "redact")]
    pub password: Option<String>,
    /// Kept by `remove`.
    pub no_remove: bool,
    /// Public keys, each a line of sshd's AUTHORIZED_KEYS format, read from
    /// the files named and checked.
    pub authorized_keys: Vec<String>,
}

/// A folder on the target hosts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Folder {
    /// Absolute path.
    pub path: String,
    /// Hosts it is created on.
    pub scope: Scope,
    /// Owner.
    pub owner: String,
    /// Group.
    pub group: String,
    /// Octal mode, e.g. "0755".
    pub mode: String,
    /// Kept by `remove`.
    pub no_remove: bool,
}

/// Where a file's content comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FileSource {
    /// Copied as is from this local file.
    File {
        /// The local file, found in `local_files_folders` or given absolute.
        path: PathBuf,
    },
    /// Rendered by Ansible's Jinja2 from this local template.
    Template {
        /// The local template, found in `local_templates_folders` or absolute.
        path: PathBuf,
    },
    /// Downloaded by the target host.
    Url {
        /// The http(s) URL (its password, if it holds one, is shown
        /// redacted).
        #[serde(serialize_with = "redact_url")]
        url: String,
        /// Check the server certificate.
        validate_certs: bool,
        /// Send credentials without waiting for a 401.
        force_basic_auth: bool,
        /// User name for the server.
        username: Option<String>,
        /// Password for the server.
        #[serde(serialize_with = "redact")]
        password: Option<String>,
    },
}

/// A file to put on the target hosts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct File {
    /// Where the content comes from.
    pub src: FileSource,
    /// Hosts it goes to.
    pub scope: Scope,
    /// Absolute destination folder.
    pub dest_folder: String,
    /// File name in that folder.
    pub dest_name: String,
    /// Owner.
    pub owner: String,
    /// Group.
    pub group: String,
    /// Octal mode.
    pub mode: String,
    /// Kept by `remove`.
    pub no_remove: bool,
    /// Programs restarted when this file changed.
    pub notify: Vec<ProgramId>,
}

impl File {
    /// The absolute path on the target.
    pub fn dest(&self) -> String {
        format!("{}/{}", self.dest_folder, self.dest_name)
    }
}

/// A supervisor of the model: its position in [`Model::supervisors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SupervisorId(pub usize);

/// A program of the model: its supervisor, and its position in that
/// supervisor's [`programs`](Supervisor::programs). [`Model::program`]
/// gives both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ProgramId {
    /// Its supervisor.
    pub supervisor: SupervisorId,
    /// Its position among the supervisor's programs.
    pub program: usize,
}

/// The state a service or program is brought to by `deploy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Running.
    Started,
    /// Not running.
    Stopped,
    /// Left as it is (stopped when first created).
    Current,
}

impl State {
    /// Every state.
    pub const ALL: [State; 3] = [State::Started, State::Stopped, State::Current];

    /// The word for the state, in descriptions and in the generated files.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Started => "started",
            State::Stopped => "stopped",
            State::Current => "current",
        }
    }

    /// The state `word` names.
    pub fn from_word(word: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == word)
    }
}

/// The web interface of a supervisord instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpServer {
    /// `host:port` to listen on.
    pub endpoint: String,
    /// Credentials, when the interface asks for them.
    pub auth: Option<HttpAuth>,
    /// The description says the interface is open on purpose
    /// (`unauthenticated: yes`): without it, one that listens beyond this
    /// host without credentials is refused.
    pub unauthenticated: bool,
}

/// Web interface credentials; the password is never kept in clear.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpAuth {
    /// User name.
    pub username: String,
    /// `{SHA}` followed by the 40 hex digits of the password's SHA-1.
    pub password_sha1: String,
}

/// A local file named by `file://` or `tmpl://`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "lowercase")]
pub enum LocalSource {
    /// Copied as is.
    File(PathBuf),
    /// Rendered by Ansible's Jinja2.
    Template(PathBuf),
}

/// A supervisord instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Supervisor {
    /// Instance name.
    pub name: String,
    /// Hosts it runs on.
    pub scope: Scope,
    /// Account it runs as and that controls it.
    pub user: String,
    /// Group it runs as.
    pub group: String,
    /// Installed, started and removed by us; when false only described.
    pub managed: bool,
    /// Started at boot.
    pub enabled: bool,
    /// State after deploy.
    pub state: State,
    /// Kept by `remove`.
    pub no_remove: bool,
    /// Web interface.
    pub http_server: Option<HttpServer>,
    /// The user's own supervisord.conf.
    pub conf_file_src: Option<LocalSource>,
    /// Path of supervisord.conf.
    pub conf_file_dst: String,
    /// Folder of program and group files.
    pub include_dir: String,
    /// Folder of supervisord's and the programs' logs.
    pub logs_dir: String,
    /// Folder of the pid file.
    pub pid_dir: String,
    /// Folder of the control socket.
    pub socks_dir: String,
    /// Path of the `supervisorctl` wrapper.
    pub supervisorctl: String,
    /// The systemd unit, e.g. `supervisord_tsupv.service`.
    pub unit: String,
    /// The control socket.
    pub socket: String,
    /// The pid file.
    pub pid_file: String,
    /// Programs, in description order.
    pub programs: Vec<Program>,
    /// Groups of programs.
    pub groups: Vec<ProgramGroup>,
}

/// A program run by a supervisord instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Program {
    /// Program name, unique in its supervisor.
    pub name: String,
    /// Hosts it runs on, within its supervisor's.
    pub scope: Scope,
    /// Command line; absent when `conf_file_src` provides the section.
    pub command: Option<String>,
    /// The user's own program section template.
    pub conf_file_src: Option<LocalSource>,
    /// State after deploy.
    pub state: State,
    /// Kept by `remove`.
    pub no_remove: bool,
    /// The group it belongs to, if any: its position in the supervisor's `groups`.
    pub group: Option<usize>,
    /// The process group supervisor knows it by: its group's name, or its own.
    pub process_group: String,
    /// Full `group:process` names of its processes, for `supervisorctl`.
    pub processes: Vec<String>,
    /// Settings written to its `[program:NAME]` section.
    pub settings: ProgramSettings,
    /// What tells, on the host, that it serves once (re)started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthCheck>,
}

/// A program's health check: run on its host after the program is
/// (re)started by a deploy or `start`, retried until it passes or
/// `timeout` seconds have gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    /// What is tried.
    pub probe: Probe,
    /// Seconds it may take to pass, from the program's processes running.
    pub timeout: u32,
}

/// How a health check asks a program whether it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// An HTTP(S) GET, from the host, answered with a 2xx status (after
    /// redirects); no proxy, no credentials.
    Http(String),
    /// A command, its arguments split as a POSIX shell would but run
    /// without one, as the supervisor's user; passes when it exits 0.
    Command(Vec<String>),
}

/// The size of a batch of hosts in a rolling deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Batch {
    /// This many hosts (at least 1).
    Hosts(u32),
    /// This percentage of the hosts (1 to 100), rounded down, at least one host.
    Percent(u8),
}

impl Batch {
    /// Reads `N` or `N%`, as `--rolling` and the description write it.
    ///
    /// # Errors
    /// What is wrong with `text`, to follow "the batch ...".
    pub fn parse(text: &str) -> Result<Batch, String> {
        let t = text.trim();
        let (digits, percent) = match t.strip_suffix('%') {
            Some(d) => (d.trim_end(), true),
            None => (t, false),
        };
        let n: u32 = digits
            .parse()
            .ok()
            .filter(|_| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("`{text}` is not a number of hosts (`2`) nor a percentage (`25%`)"))?;
        match (percent, n) {
            (_, 0) => Err("a batch of 0 hosts deploys nothing: give at least 1 (or 1%)".to_string()),
            (true, 1..=100) => Ok(Batch::Percent(n as u8)),
            (true, _) => Err(format!("`{text}` is more than 100%")),
            (false, n) => Ok(Batch::Hosts(n)),
        }
    }
}

impl std::fmt::Display for Batch {
    /// As Ansible's `serial` takes it: `2`, `25%`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Batch::Hosts(n) => write!(f, "{n}"),
            Batch::Percent(p) => write!(f, "{p}%"),
        }
    }
}

macro_rules! settings_struct {
    ($($key:ident: $rust:ty, $ty:expr, $ini:ident;)*) => {
        /// The supervisor settings of a program, each as supervisor defines
        /// it (`program_settings.rs` declares them). `None` leaves supervisor's
        /// default.
        #[derive(Debug, Clone, Default, PartialEq, Serialize)]
        #[allow(missing_docs)] // Each field is the supervisor option of the same name.
        pub struct ProgramSettings {
            $(pub $key: $rust,)*
        }

        impl ProgramSettings {
            /// Each setting's line of the program's INI section, in the
            /// order of the file: its key, and its value or `None` where
            /// the line is left out (supervisor's default).
            pub fn ini_lines(&self) -> Vec<(&'static str, Option<Ini<'_>>)> {
                vec![$((stringify!($key), crate::program_settings::ini::$ini(&self.$key)),)*]
            }
        }
    };
}
crate::program_settings::program_settings!(settings_struct);

impl ProgramSettings {
    /// Seconds a process must stay up to count as started (supervisor's default is 1).
    pub fn effective_startsecs(&self) -> u32 {
        self.startsecs.unwrap_or(1)
    }
}

/// A `[group:NAME]` of programs of one supervisor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgramGroup {
    /// Group name.
    pub name: String,
    /// Its programs: their positions in the supervisor's `programs`.
    pub programs: Vec<usize>,
    /// Start priority.
    pub priority: Option<i64>,
    /// Hosts it runs on: those of its programs.
    pub scope: Scope,
    /// Kept by `remove`.
    pub no_remove: bool,
}

/// Whether `word` is a scope expression, given what names a host or a
/// group: parts joined with `:`, each `all` or `known`.
pub(crate) fn names_hosts(word: &str, known: impl Fn(&str) -> bool) -> bool {
    !word.is_empty() && word.split(':').all(|p| p == "all" || known(p))
}

impl Model {
    /// Whether `word` is one of HADeploy's file scopes: a scope expression
    /// whose parts are hosts, host groups or `all` (`en1`, `edges:en3`).
    /// As a `--scope`, it selects the files and folders whose `scope` is
    /// written exactly so.
    pub fn is_item_scope(&self, word: &str) -> bool {
        names_hosts(word, |p| self.hosts.contains_key(p) || self.host_groups.contains_key(p))
    }

    /// Keeps the files and folders whose `scope` is written as one of
    /// `included` (all of them when it is `None`) and as none of `excluded`.
    pub fn keep_items_of_scopes(&mut self, included: Option<&[String]>, excluded: &[String]) {
        let keep = |s: &Scope| included.is_none_or(|i| i.contains(&s.expr)) && !excluded.contains(&s.expr);
        self.files.retain(|f| keep(&f.scope));
        self.folders.retain(|f| keep(&f.scope));
    }

    /// The name of a host of the model.
    pub fn host_name(&self, id: HostId) -> &str {
        self.hosts.get_index(id.0).map_or("", |(name, _)| name.as_str())
    }

    /// A supervisor of the model.
    pub fn supervisor(&self, id: SupervisorId) -> &Supervisor {
        &self.supervisors[id.0]
    }

    /// A program of the model, with its supervisor.
    pub fn program(&self, id: ProgramId) -> (&Supervisor, &Program) {
        let s = self.supervisor(id.supervisor);
        (s, &s.programs[id.program])
    }
}

#[cfg(test)]
mod tests {
    use super::Batch;

    #[test]
    fn batches_are_hosts_or_percentages() {
        assert_eq!(Batch::parse("1"), Ok(Batch::Hosts(1)));
        assert_eq!(Batch::parse(" 12 "), Ok(Batch::Hosts(12)));
        assert_eq!(Batch::parse("25%"), Ok(Batch::Percent(25)));
        assert_eq!(Batch::parse("100%"), Ok(Batch::Percent(100)));
        assert_eq!(Batch::Percent(25).to_string(), "25%");
        assert_eq!(Batch::Hosts(3).to_string(), "3");
        for bad in [
            "0",
            "0%",
            "101%",
            "-1",
            "+1",
            "1.5",
            "",
            "%",
            "two",
            "25 %%",
            "99999999999",
        ] {
            assert!(Batch::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
