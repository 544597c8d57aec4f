//! The description format: every section, every key and how its value is
//! written. The loader reads each map against these tables (a key that is not
//! listed is an unknown key) and [`json_schema`](crate::json_schema) is
//! generated from them, so a key cannot be accepted by one and missed by the
//! other.

use crate::model::State;

/// How a value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A single-line string; plain numbers and booleans are taken as written.
    Str,
    /// A local path, relative to the file that names it.
    LocalPath,
    /// `yes` or `no` (`true`/`false`, `on`/`off`, `y`/`n`, any case), unquoted.
    Bool,
    /// An integer within `min..=max`.
    Int {
        /// Smallest value accepted.
        min: i64,
        /// Largest value accepted.
        max: i64,
    },
    /// Exactly one of these words.
    Word(&'static [&'static str]),
    /// One of [`SIGNALS`], any case, with or without `SIG`.
    Signal,
    /// An octal mode, e.g. `"0755"`.
    Mode,
    /// A size in bytes, with an optional `KB`, `MB` or `GB`.
    Size,
    /// A string, or a list of strings.
    StrList,
    /// `yes`, `no` or `unexpected`.
    Autorestart,
    /// Exit codes: a list, a single code, or `"0,2"`.
    ExitCodes,
    /// A list of `KEY=value` strings, or a map.
    Environment,
    /// A map with these keys.
    Map(&'static Keys),
    /// A list of maps with these keys: a section's items.
    Items(&'static Keys),
    /// A map of variables, any values.
    Vars,
    /// A map of variables whose values are Ansible Vault values.
    Vault,
}

/// One key of a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key as written.
    pub name: &'static str,
    /// How its value is written.
    pub ty: Ty,
    /// Whether the map must have it.
    pub required: bool,
}

const fn req(name: &'static str, ty: Ty) -> Key {
    Key {
        name,
        ty,
        required: true,
    }
}

const fn opt(name: &'static str, ty: Ty) -> Key {
    Key {
        name,
        ty,
        required: false,
    }
}

/// The keys one kind of map accepts.
#[derive(Debug, PartialEq, Eq)]
pub struct Keys {
    /// The map, for messages: "a `hosts` item".
    pub what: &'static str,
    /// The keys, in parts: hosts and overrides share the host attributes.
    pub parts: &'static [&'static [Key]],
    /// When not empty, at least one of these keys is required.
    pub one_of: &'static [&'static str],
    /// Keys that an empty string (`''`) removes, whatever their type.
    pub removable: &'static [Key],
}

impl Keys {
    /// Every key, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'static Key> + use<> {
        self.parts.iter().flat_map(|p| p.iter())
    }

    /// The key named `name`.
    pub fn get(&self, name: &str) -> Option<&'static Key> {
        self.iter().find(|k| k.name == name)
    }

    /// The names of every key, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(|k| k.name).collect()
    }
}

/// A top-level section.
#[derive(Debug, PartialEq, Eq)]
pub struct Section {
    /// The section's key.
    pub name: &'static str,
    /// What it holds.
    pub ty: Ty,
    /// One line saying what it is for.
    pub doc: &'static str,
}

/// The states of supervisors and programs.
pub const STATES: &[&str] = &[
    State::Started.as_str(),
    State::Stopped.as_str(),
    State::Current.as_str(),
];
/// The signals supervisor can send to stop a program, by name: every name
/// of Python's `signal` module on Linux, as supervisor's `signal_number`
/// reads it (any case, with or without `SIG`); a number from 1 to 64 works
/// too.
pub const SIGNALS: &[&str] = &[
    "TERM", "HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "ILL",
    "IO", "IOT", "PIPE", "POLL", "PROF", "PWR", "RTMAX", "RTMIN", "SEGV", "STKFLT", "STOP", "SYS", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "VTALRM", "WINCH", "XCPU", "XFSZ",
];

/// Words supervisor reads as true and as false (`TRUTHY_STRINGS`,
/// `FALSY_STRINGS`), any case.
pub const TRUTHY: &[&str] = &["yes", "true", "on", "1"];
/// See [`TRUTHY`].
pub const FALSY: &[&str] = &["no", "false", "off", "0"];

/// A word of [`TRUTHY`] or [`FALSY`], any case, as the boolean it says.
pub fn bool_word(word: &str) -> Option<bool> {
    let w = word.to_ascii_lowercase();
    if TRUTHY.contains(&w.as_str()) {
        Some(true)
    } else if FALSY.contains(&w.as_str()) {
        Some(false)
    } else {
        None
    }
}

const U32: Ty = Ty::Int {
    min: 0,
    max: u32::MAX as i64,
};
const PRIORITY: Ty = Ty::Int {
    min: 0,
    max: i32::MAX as i64,
};
const WHEN: Key = opt("when", Ty::Bool);

macro_rules! setting_keys {
    ($($key:ident: $rust:ty, $ty:expr, $ini:ident;)*) => {
        /// The keys of a program's supervisor settings (declared in
        /// `program_settings.rs`), in the order of their INI lines.
        const PROGRAM_SETTINGS: &[Key] = &[$(opt(stringify!($key), $ty),)*];
    };
}
crate::program_settings::program_settings!(setting_keys);

/// Every host attribute, as `hosts` and `host_overrides` spell it.
pub const HOST_ATTRS: &[Key] = &[
    opt("ssh_host", Ty::Str),
    opt("ssh_user", Ty::Str),
    opt("ssh_private_key_file", Ty::LocalPath),
    opt("ssh_password", Ty::Str),
    opt("ssh_port", Ty::Int { min: 1, max: 65535 }),
    opt("ssh_extra_args", Ty::Str),
    opt("ssh_common_args", Ty::Str),
    opt("sftp_extra_args", Ty::Str),
    opt("scp_extra_args", Ty::Str),
    // A string in HADeploy's schema: `"true"`, `"yes"`... quoted are read too.
    opt("ssh_pipelining", Ty::Bool),
    opt("ssh_executable", Ty::Str),
    opt("become", Ty::Bool),
    opt("become_method", Ty::Str),
    opt("become_user", Ty::Str),
    opt("become_pass", Ty::Str),
    opt("become_exe", Ty::Str),
    opt("become_flags", Ty::Str),
    opt("python_interpreter", Ty::Str),
    opt("privileged", Ty::Bool),
    opt("force_setup", Ty::Bool),
];

/// Ansible's names for the host attributes of [`HOST_ATTRS`]: the model's
/// table, which its hosts write their connection variables from.
pub use crate::model::ANSIBLE_NAMES;

/// A `hosts` item.
pub const HOST: Keys = Keys {
    what: "a `hosts` item",
    parts: &[&[req("name", Ty::Str), WHEN], HOST_ATTRS],
    one_of: &[],
    removable: &[],
};

/// A `host_groups` item.
pub const HOST_GROUP: Keys = Keys {
    what: "a `host_groups` item",
    parts: &[&[
        req("name", Ty::Str),
        opt("hosts", Ty::StrList),
        opt("groups", Ty::StrList),
        opt("force_setup", Ty::Bool),
        WHEN,
    ]],
    one_of: &[],
    removable: &[],
};

/// A `host_group_overrides` item.
pub const HOST_GROUP_OVERRIDE: Keys = Keys {
    what: "a `host_group_overrides` item",
    parts: &[&[
        req("name", Ty::Str),
        opt("hosts", Ty::StrList),
        opt("force_setup", Ty::Bool),
        WHEN,
    ]],
    one_of: &[],
    removable: &[],
};

/// A `host_overrides` item.
pub const HOST_OVERRIDE: Keys = Keys {
    what: "a `host_overrides` item",
    parts: &[
        &[
            req("name", Ty::Str),
            opt(
                "priority",
                Ty::Int {
                    min: i64::MIN,
                    max: i64::MAX,
                },
            ),
            WHEN,
        ],
        HOST_ATTRS,
    ],
    one_of: &[],
    removable: HOST_ATTRS,
};

/// An `ansible_inventories` item.
pub const ANSIBLE_INVENTORY: Keys = Keys {
    what: "an `ansible_inventories` item",
    parts: &[&[
        req("file", Ty::LocalPath),
        opt("name", Ty::Str),
        opt("vault_password_file", Ty::LocalPath),
        opt("ask_vault_password", Ty::Bool),
        WHEN,
    ]],
    one_of: &[],
    removable: &[],
};

/// A `groups` item (a Unix group).
pub const GROUP: Keys = Keys {
    what: "a `groups` item",
    parts: &[&[
        req("name", Ty::Str),
        opt("system", Ty::Bool),
        opt("managed", Ty::Bool),
        opt("scope", Ty::Str),
        opt("no_remove", Ty::Bool),
        WHEN,
    ]],
    one_of: &[],
    removable: &[],
};

/// A `users` item.
pub const USER: Keys = Keys {
    what: "a `users` item",
    parts: &[&[
        req("login", Ty::Str),
        opt("comment", Ty::Str),
        opt("group", Ty::Str),
        opt("groups", Ty::Str),
        opt("system", Ty::Bool),
        opt("managed", Ty::Bool),
        opt("scope", Ty::Str),
        opt("can_sudo_to", Ty::Str),
        opt("create_home", Ty::Bool),
        opt("password", Ty::Str),
        opt("no_remove", Ty::Bool),
        opt("authorized_keys", Ty::StrList),
        opt("privileged_groups", Ty::Bool),
        WHEN,
    ]],
    one_of: &[],
    removable: &[],
};

/// A `folders` item.
pub const FOLDER: Keys = Keys {
    what: "a `folders` item",
    parts: &[&[
        req("path", Ty::Str),
        opt("scope", Ty::Str),
        req("owner", Ty::Str),
        req("group", Ty::Str),
        req("mode", Ty::Mode),
        opt("no_remove", Ty::Bool),
        WHEN,
    ]],
    one_of: &[],
    removable: &[],
};

/// A `files` item.
pub const FILE: Keys = Keys {
    what: "a `files` item",
    parts: &[&[
        req("src", Ty::Str),
        opt("scope", Ty::Str),
        req("dest_folder", Ty::Str),
        opt("dest_name", Ty::Str),
        req("owner", Ty::Str),
        req("group", Ty::Str),
        req("mode", Ty::Mode),
        opt("no_remove", Ty::Bool),
        opt("notify", Ty::StrList),
        WHEN,
        opt("validate_certs", Ty::Bool),
        opt("force_basic_auth", Ty::Bool),
        opt("url_username", Ty::Str),
        opt("url_password", Ty::Str),
    ]],
    one_of: &[],
    removable: &[],
};

/// A supervisor's `http_server`.
pub const HTTP_SERVER: Keys = Keys {
    what: "`http_server`",
    parts: &[&[
        opt("endpoint", Ty::Str),
        opt("username", Ty::Str),
        opt("password", Ty::Str),
        opt("unauthenticated", Ty::Bool),
    ]],
    one_of: &[],
    removable: &[],
};

/// A `supervisors` item.
pub const SUPERVISOR: Keys = Keys {
    what: "a `supervisors` item",
    parts: &[&[
        req("name", Ty::Str),
        req("scope", Ty::Str),
        req("user", Ty::Str),
        req("group", Ty::Str),
        opt("managed", Ty::Bool),
        opt("enabled", Ty::Bool),
        opt("state", Ty::Word(STATES)),
        opt("no_remove", Ty::Bool),
        opt("http_server", Ty::Map(&HTTP_SERVER)),
        opt("conf_file_src", Ty::Str),
        opt("conf_file_dst", Ty::Str),
        opt("include_dir", Ty::Str),
        opt("logs_dir", Ty::Str),
        opt("pid_dir", Ty::Str),
        opt("socks_dir", Ty::Str),
        opt("supervisorctl", Ty::Str),
        WHEN,
    ]],
    one_of: &[],
    removable: &[],
};

/// A `supervisor_programs` item.
pub const PROGRAM: Keys = Keys {
    what: "a `supervisor_programs` item",
    parts: &[
        &[
            req("name", Ty::Str),
            req("supervisor", Ty::Str),
            opt("scope", Ty::Str),
            opt("command", Ty::Str),
            opt("state", Ty::Word(STATES)),
            opt("no_remove", Ty::Bool),
            opt("conf_file_src", Ty::Str),
            WHEN,
        ],
        PROGRAM_SETTINGS,
        &[opt("healthcheck", Ty::Map(&HEALTHCHECK))],
    ],
    one_of: &["command", "conf_file_src"],
    removable: &[],
};

/// A program's `healthcheck`: one probe, and how long it may take to pass.
pub const HEALTHCHECK: Keys = Keys {
    what: "a program's `healthcheck`",
    parts: &[&[
        opt("http", Ty::Str),
        opt("command", Ty::Str),
        opt("timeout", Ty::Int { min: 1, max: 3600 }),
    ]],
    one_of: &["http", "command"],
    removable: &[],
};

/// The top-level `rolling`.
pub const ROLLING: Keys = Keys {
    what: "`rolling`",
    parts: &[&[req("batch", Ty::Str)]],
    one_of: &[],
    removable: &[],
};

/// A `supervisor_groups` item.
pub const PROGRAM_GROUP: Keys = Keys {
    what: "a `supervisor_groups` item",
    parts: &[&[
        req("name", Ty::Str),
        req("supervisor", Ty::Str),
        req("programs", Ty::StrList),
        opt("scope", Ty::Str),
        opt("priority", PRIORITY),
        opt("no_remove", Ty::Bool),
        WHEN,
    ]],
    one_of: &[],
    removable: &[],
};

/// Every top-level section, `vars` and `include` being the loader's.
pub const SECTIONS: &[Section] = &[
    Section {
        name: "hosts",
        ty: Ty::Items(&HOST),
        doc: "The target hosts and how to reach them.",
    },
    Section {
        name: "host_groups",
        ty: Ty::Items(&HOST_GROUP),
        doc: "Named groups of hosts and of other groups; `all` always exists.",
    },
    Section {
        name: "host_overrides",
        ty: Ty::Items(&HOST_OVERRIDE),
        doc: "Host attributes changed for a host, a group, `all` or `*`; the higher `priority` wins.",
    },
    Section {
        name: "host_group_overrides",
        ty: Ty::Items(&HOST_GROUP_OVERRIDE),
        doc: "A group's hosts replaced, or its `force_setup` set, by name (`all` or `*` for every group).",
    },
    Section {
        name: "ansible_inventories",
        ty: Ty::Items(&ANSIBLE_INVENTORY),
        doc: "Ansible inventories (INI or YAML) whose hosts and groups are added.",
    },
    Section {
        name: "exit_on_fail",
        ty: Ty::Bool,
        doc: "Stop at the first host that fails (default yes).",
    },
    Section {
        name: "rolling",
        ty: Ty::Map(&ROLLING),
        doc: "Deploy `batch` hosts at a time (`2`, or `25%` of them), each batch's restarted programs running and healthy before the next; the first failed batch ends the deploy.",
    },
    Section {
        name: "included_scopes",
        ty: Ty::StrList,
        doc: "Scopes to run, when `--scope` gives none: users, files, supervisor, all, none.",
    },
    Section {
        name: "excluded_scopes",
        ty: Ty::StrList,
        doc: "Scopes to skip, with those of `--noScope`.",
    },
    Section {
        name: "vars",
        ty: Ty::Vars,
        doc: "Variables, used as ${name} or <<name>> in every value loaded after them.",
    },
    Section {
        name: "encrypted_vars",
        ty: Ty::Vault,
        doc: "Variables holding Ansible Vault values (`!vault |` or `$ANSIBLE_VAULT;...`), for Ansible to decrypt when it runs; hadeploy never decrypts them.",
    },
    Section {
        name: "include",
        ty: Ty::StrList,
        doc: "Description files loaded at this point, relative to this file.",
    },
    Section {
        name: "groups",
        ty: Ty::Items(&GROUP),
        doc: "Unix groups.",
    },
    Section {
        name: "users",
        ty: Ty::Items(&USER),
        doc: "Unix accounts.",
    },
    Section {
        name: "folders",
        ty: Ty::Items(&FOLDER),
        doc: "Folders created on the hosts.",
    },
    Section {
        name: "local_files_folders",
        ty: Ty::StrList,
        doc: "Local folders searched, in order, for `file://NAME`.",
    },
    Section {
        name: "local_templates_folders",
        ty: Ty::StrList,
        doc: "Local folders searched, in order, for `tmpl://NAME`.",
    },
    Section {
        name: "files",
        ty: Ty::Items(&FILE),
        doc: "Files copied, rendered or downloaded onto the hosts.",
    },
    Section {
        name: "supervisors",
        ty: Ty::Items(&SUPERVISOR),
        doc: "supervisord instances, each run by a systemd unit as its own user.",
    },
    Section {
        name: "supervisor_programs",
        ty: Ty::Items(&PROGRAM),
        doc: "Programs run by a supervisor.",
    },
    Section {
        name: "supervisor_groups",
        ty: Ty::Items(&PROGRAM_GROUP),
        doc: "Groups of one supervisor's programs, started and stopped together.",
    },
];

/// A variable name, as Ansible, the loader and an environment take it:
/// letters, digits and `_`, not starting with a digit. The one place this
/// rule is written (variables, INI inventory variables, `encrypted_vars`,
/// environment keys, YAML keys written plain).
pub fn is_var_name(name: &str) -> bool {
    is_word(name) && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// One or more letters, digits and `_`: the characters of a name in
/// Python's `%(name)s`, of a variable and of a part of a dotted reference.
pub fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Longest name of a host, group, user, supervisor or program.
pub const MAX_NAME: usize = 64;

/// Why `name` cannot name a host, group, account, supervisor or program
/// (it becomes a YAML key, a file name, a scope and a unit name), or
/// `None`: 1 to [`MAX_NAME`] letters, digits, `_`, `-` and `.`, not
/// starting with `-` or `.`. The one place this rule is written.
pub fn name_problem(name: &str) -> Option<String> {
    let bad = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')));
    if name.is_empty() {
        Some("it is empty".to_string())
    } else if name.len() > MAX_NAME {
        Some(format!("it is longer than {MAX_NAME} characters"))
    } else if let Some(c) = bad {
        Some(format!("it contains {c:?}"))
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        Some("it must start with a letter, a digit or `_`".to_string())
    } else {
        None
    }
}

/// `name` follows the rule of [`name_problem`].
pub fn is_name(name: &str) -> bool {
    name_problem(name).is_none()
}

/// Sections of HADeploy's other plugins, which this tool does not
/// implement, with the plugin each belongs to (its `lib/hadeploy/plugins/`).
pub const OTHER_PLUGIN_SECTIONS: &[(&str, &str)] = &[
    ("playbooks_folders", "ansible"),
    ("roles_folders", "ansible"),
    ("ansible_playbooks", "ansible"),
    ("ansible_roles", "ansible"),
    ("elasticsearch_servers", "elastic"),
    ("elasticsearch_indices", "elastic"),
    ("elasticsearch_templates", "elastic"),
    ("trees", "files"),
    ("maven_repositories", "files"),
    ("hbase_relay", "hbase"),
    ("hbase_namespaces", "hbase"),
    ("hbase_tables", "hbase"),
    ("hbase_datasets", "hbase"),
    ("hdfs_relay", "hdfs"),
    ("source_host_credentials", "hdfs"),
    ("hive_relay", "hive"),
    ("hive_databases", "hive"),
    ("hive_tables", "hive"),
    ("kafka_relay", "kafka"),
    ("kafka_topics", "kafka"),
    ("storm_relay", "storm"),
    ("storm_topologies", "storm"),
    ("systemd_units", "systemd"),
    ("yarn_relay", "yarn"),
    ("yarn_services", "yarn"),
    ("ranger_relay", "ranger"),
    ("hdfs_ranger_policies", "ranger"),
    ("hbase_ranger_policies", "ranger"),
    ("hive_ranger_policies", "ranger"),
    ("kafka_ranger_policies", "ranger"),
    ("storm_ranger_policies", "ranger"),
    ("yarn_ranger_policies", "ranger"),
];

/// Where a `notify` target or a `src` scheme of HADeploy belongs when it is
/// not this tool's: (prefix, plugin).
pub const OTHER_PLUGIN_SCHEMES: &[(&str, &str)] = &[
    ("systemd://", "systemd"),
    ("storm://", "storm"),
    ("mvn://", "files"),
    ("node://", "hdfs"),
];

/// The scopes (`--scope`, `included_scopes`...) of HADeploy's other
/// plugins: nothing of them runs here.
pub const OTHER_SCOPES: &[&str] = &[
    "hdfs", "hbase", "kafka", "hive", "ansible", "ranger", "systemd", "storm", "yarn", "elastic",
];

/// The inventory group of every described host, which the generated
/// playbooks target: an estate's other hosts in the same inventory are left
/// alone. A description cannot name a group so.
pub const TARGET_GROUP: &str = "hadeploy_hosts";

/// The scopes of this tool: its areas, `all` and `none`.
pub const SCOPES: &[&str] = &["users", "files", "supervisor", "all", "none"];

/// The scope token that HADeploy's hdfs plugin reads as "on HDFS".
pub const HDFS_SCOPE: &str = "hdfs";

/// The HADeploy plugin a section, a `notify` target or a `src` belongs to,
/// when it is one this tool does not implement.
pub fn other_plugin(name: &str) -> Option<&'static str> {
    OTHER_PLUGIN_SECTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .or_else(|| OTHER_PLUGIN_SCHEMES.iter().find(|(p, _)| name.starts_with(p)))
        .map(|(_, plugin)| *plugin)
}

/// The section named `name`.
pub fn section(name: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.name == name)
}

/// Whether a web interface's `HOST:PORT` (supervisor's `port`) listens on
/// this host only: `127.x.x.x`, `localhost` or `::1`. `*:9001`, `:9001`,
/// `0.0.0.0:9001`, a name or an address of the host's, and anything Ansible
/// still has to render, listen where others can reach it. The one place
/// this rule is written: the model refuses an open interface that is not,
/// code generation checks every `supervisord.conf` it writes.
pub fn endpoint_is_loopback(endpoint: &str) -> bool {
    let host = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host == "::1"
        || host.strip_prefix("127.").is_some_and(|rest| {
            let parts: Vec<&str> = rest.split('.').collect();
            parts.len() == 3 && parts.iter().all(|p| p.parse::<u8>().is_ok())
        })
}

/// Why `s` cannot be a value of supervisor's INI configuration, or `None`:
/// a line break ends it, whitespace at either end is dropped, and a `;` or
/// `#` after whitespace starts a comment ([`supervisor_comment_start`]).
/// The one place this rule is written: the model refuses such values with
/// their position, code generation checks again before writing.
pub fn ini_value_problem(s: &str) -> Option<String> {
    if s.contains(['\n', '\r']) {
        Some("a line break cannot be written in supervisor's configuration".into())
    } else if s.trim() != s {
        Some("it starts or ends with whitespace, which supervisor's configuration parser drops".into())
    } else {
        supervisor_comment_start(s)
            .map(|c| format!("a `{c}` after a space would start a comment in supervisor's configuration"))
    }
}

/// Where supervisor's configuration parser would start a comment in a value:
/// a `;` or `#` after whitespace. The model refuses such values with their
/// position; code generation checks again before writing.
pub fn supervisor_comment_start(s: &str) -> Option<char> {
    let mut prev: Option<char> = None;
    for c in s.chars() {
        if matches!(c, ';' | '#') && prev.is_some_and(char::is_whitespace) {
            return Some(c);
        }
        prev = Some(c);
    }
    None
}
