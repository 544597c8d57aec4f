//! The roles' inputs, declared once: every variable the roles read, and of
//! each list, the keys of its items. [`argument_specs`] writes each role's
//! `meta/argument_specs.yml` from them (Ansible checks the inputs against
//! it before a role's first task), the action plugin refuses a variable of
//! a role's prefix that none of them names, and a test checks every item
//! `crate::data` writes against them: the data and its description cannot
//! drift apart.

use crate::quote;

/// The type of a value, as Ansible's argument specs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// `str`.
    Str,
    /// `bool`.
    Bool,
    /// `int`.
    Int,
    /// `path`: a string, `~` expanded.
    Path,
    /// A list of strings.
    Strs,
    /// A list of maps with these keys.
    Items(&'static [Key]),
    /// A map with these keys.
    Map(&'static [Key]),
    /// A list of maps another role describes.
    AnyItems,
    /// A map of any values, which no role checks: they may be vault
    /// values, which a check would decrypt.
    AnyMap,
}

/// A key of an item, or a role's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// As the variable or the item names it.
    pub name: &'static str,
    /// What it holds.
    pub ty: Ty,
    /// An item without it is refused.
    pub required: bool,
    /// The values it may take, when they are few.
    pub choices: &'static [&'static str],
    /// Its default, as YAML, for an input.
    pub default: Option<&'static str>,
    /// Of an input: what the role's `defaults/main.yml` sets it to when
    /// that is no value of its type for the argument spec (an expression
    /// of the role's other inputs).
    pub role_default: Option<&'static str>,
    /// What it is, for `ansible-doc`.
    pub doc: &'static str,
    /// Of an item: the role's module takes it (the action plugin gives the
    /// module these keys of each item, [`MODULE_ITEMS`]).
    pub to_module: bool,
    /// Of an item the module takes: its argument spec's `no_log`, when
    /// said (a password; a public key, whose name Ansible would take for a
    /// secret's).
    pub no_log: Option<bool>,
}

const fn key(name: &'static str, ty: Ty, doc: &'static str) -> Key {
    Key {
        name,
        ty,
        required: false,
        choices: &[],
        default: None,
        role_default: None,
        doc,
        to_module: false,
        no_log: None,
    }
}

/// `k`, which the role's module takes of an item.
const fn taken(k: Key) -> Key {
    Key { to_module: true, ..k }
}

/// `k`, whose value the module keeps out of its output (`no_log`), or
/// shows, when `hide` is false, though its name looks like a secret's.
const fn logged(k: Key, hide: bool) -> Key {
    Key {
        no_log: Some(hide),
        ..k
    }
}

const fn req(name: &'static str, ty: Ty, doc: &'static str) -> Key {
    Key {
        required: true,
        ..key(name, ty, doc)
    }
}

const fn one_of(k: Key, choices: &'static [&'static str]) -> Key {
    Key { choices, ..k }
}

const fn with_default(k: Key, default: &'static str) -> Key {
    Key {
        default: Some(default),
        ..k
    }
}

const SCOPE: Key = key(
    "scope",
    Ty::Str,
    "The hosts and host groups the item goes to, joined with C(:); C(all) for every host (the default).",
);
const NO_REMOVE: Key = key("no_remove", Ty::Bool, "C(remove) leaves it in place.");
const OWNER: Key = taken(req("owner", Ty::Str, "Its owner."));
const GROUP: Key = taken(req("group", Ty::Str, "Its group."));
const MODE: Key = taken(req("mode", Ty::Str, "Its mode, in octal (C(0755))."));
const STATES: &[&str] = &["started", "stopped", "current"];
const SRC: Key = req("src", Ty::Str, "Its source, under O(hadeploy_files_dir).");
const RENDER: Key = key(
    "render",
    Ty::Bool,
    "Rendered by Ansible (it depends on the host), else sent as it is.",
);

const GROUPS: &[Key] = &[
    taken(req("name", Ty::Str, "The group's name.")),
    key("system", Ty::Bool, "A system group."),
    NO_REMOVE,
    SCOPE,
];
const USERS: &[Key] = &[
    taken(req("login", Ty::Str, "The account's name.")),
    key(
        "managed",
        Ty::Bool,
        "The role creates and removes it (else it only uses it).",
    ),
    taken(key("comment", Ty::Str, "Its GECOS field.")),
    taken(key("group", Ty::Str, "Its primary group.")),
    taken(key("groups", Ty::Strs, "Its other groups, added to those it has.")),
    key("system", Ty::Bool, "A system account."),
    key("create_home", Ty::Bool, "Its home folder is created."),
    logged(
        taken(key(
            "password",
            Ty::Str,
            "Its password, crypted (the role's tasks keep it out of the output).",
        )),
        true,
    ),
    NO_REMOVE,
    SCOPE,
];
const AUTHORIZED_KEYS: &[Key] = &[
    taken(req(
        "user",
        Ty::Str,
        "The account whose C(authorized_keys) holds the line.",
    )),
    // A public key: nothing secret to hide.
    logged(
        taken(req(
            "key",
            Ty::Str,
            "One line of C(authorized_keys): options, then the public key.",
        )),
        false,
    ),
    SCOPE,
];
const SUDOERS: &[Key] = &[
    req("user", Ty::Str, "The account the rule lets run commands as others."),
    taken(req("dest", Ty::Path, "Its file, in C(/etc/sudoers.d/).")),
    taken(req(
        "content",
        Ty::Str,
        "The rule, checked by C(visudo) before it is written.",
    )),
    NO_REMOVE,
    SCOPE,
];
const FOLDERS: &[Key] = &[
    taken(req("path", Ty::Path, "The folder.")),
    OWNER,
    GROUP,
    MODE,
    NO_REMOVE,
    key(
        "rendered",
        Ty::Bool,
        "The path holds an Ansible expression: checked once rendered.",
    ),
    SCOPE,
];
const NOTIFIED: &[Key] = &[
    taken(req("supervisor", Ty::Str, "The instance.")),
    taken(req("process", Ty::Str, "The process, as C(supervisorctl) names it.")),
    taken(req("group", Ty::Str, "Its process group.")),
];
const FILES: &[Key] = &[
    one_of(
        req(
            "kind",
            Ty::Str,
            "How the file is made: copied, rendered by Ansible, or downloaded.",
        ),
        &["copy", "template", "url"],
    ),
    key(
        "src",
        Ty::Str,
        "C(copy) and C(template): its source, under O(hadeploy_files_dir).",
    ),
    key(
        "checksum",
        Ty::Str,
        "C(copy): the source's SHA-1, so the controller does not read it for each host.",
    ),
    key(
        "render",
        Ty::Bool,
        "C(template): it depends on the host (else it is sent as it is).",
    ),
    key("url", Ty::Str, "C(url): where it is downloaded from."),
    key(
        "validate_certs",
        Ty::Bool,
        "C(url): the server's certificate is checked.",
    ),
    key(
        "force_basic_auth",
        Ty::Bool,
        "C(url): the credentials are sent without being asked for.",
    ),
    key("url_username", Ty::Str, "C(url): the user name."),
    key(
        "url_password",
        Ty::Str,
        "C(url): the password (kept out of the output).",
    ),
    req("dest", Ty::Path, "The file on the host."),
    key(
        "rendered",
        Ty::Bool,
        "The path holds an Ansible expression: checked once rendered.",
    ),
    OWNER,
    GROUP,
    MODE,
    NO_REMOVE,
    key(
        "notify",
        Ty::Items(NOTIFIED),
        "The processes restarted when its content changes.",
    ),
    SCOPE,
];

const PROCESSES: &[Key] = &[
    taken(req(
        "status",
        Ty::Str,
        "The process, as C(supervisorctl status) names it.",
    )),
    taken(one_of(
        req("state", Ty::Str, "Its state after a deploy or start."),
        STATES,
    )),
    taken(req("group", Ty::Str, "Its process group.")),
    taken(key(
        "program",
        Ty::Str,
        "Its program, which O(hadeploy_supervisor_programs) may name.",
    )),
    SCOPE,
];
const HEALTHCHECKS: &[Key] = &[
    taken(req("program", Ty::Str, "The program.")),
    taken(req(
        "processes",
        Ty::Strs,
        "Its processes, as C(supervisorctl status) names them.",
    )),
    taken(key(
        "http",
        Ty::Str,
        "A URL asked from the host: passes on a 2xx answer (no proxy).",
    )),
    taken(key(
        "command",
        Ty::Strs,
        "A command and its arguments, run without a shell as C(user): passes when it exits 0.",
    )),
    taken(req(
        "timeout",
        Ty::Int,
        "Seconds it may take to pass, tried again every second.",
    )),
    taken(key("user", Ty::Str, "Who runs C(command): the instance's user.")),
    SCOPE,
];
const INSTANCES: &[Key] = &[
    taken(req("name", Ty::Str, "The instance's name.")),
    taken(with_default(
        key(
            "managed",
            Ty::Bool,
            "The role installs it, with its systemd unit (else it is only used).",
        ),
        "false",
    )),
    key("conf", Ty::Path, "Its configuration file."),
    taken(key("unit", Ty::Str, "Its systemd unit.")),
    taken(req("socket", Ty::Path, "Its XML-RPC unix socket.")),
    taken(key("unit_path", Ty::Path, "Its unit file.")),
    taken(with_default(
        one_of(key("state", Ty::Str, "The service's state after a deploy."), STATES),
        "current",
    )),
    taken(with_default(
        key("enabled", Ty::Bool, "The service starts at boot."),
        "true",
    )),
    taken(key("include_dir", Ty::Path, "The folder of its program files.")),
    taken(with_default(NO_REMOVE, "false")),
    key(
        "settle",
        Ty::Int,
        "How long, in seconds, its programs may take to start (their C(startsecs) and C(startretries)).",
    ),
    SCOPE,
    taken(key("processes", Ty::Items(PROCESSES), "Its programs' processes.")),
    taken(key(
        "healthchecks",
        Ty::Items(HEALTHCHECKS),
        "Checked after a deploy or C(start) (re)starts the program's processes.",
    )),
];
const DIRS: &[Key] = &[taken(req("path", Ty::Path, "The folder.")), OWNER, GROUP, MODE, SCOPE];
const LAYOUT: &[Key] = &[
    key("name", Ty::Str, "C(supervisor_name)."),
    key("user", Ty::Str, "C(supervisor_user)."),
    key("group", Ty::Str, "C(supervisor_group)."),
    key("conf_file_dst", Ty::Path, "C(conf_file_dst)."),
    key("include_dir", Ty::Path, "C(include_dir)."),
    key("logs_dir", Ty::Path, "C(logs_dir)."),
    key("pid_dir", Ty::Path, "C(pid_dir)."),
    key("socks_dir", Ty::Path, "C(socks_dir)."),
    key("socket", Ty::Path, "C(socket)."),
    key("pid_file", Ty::Path, "C(pid_file)."),
];
const INSTANCE_FILES: &[Key] = &[
    req("supervisor", Ty::Str, "The instance."),
    SRC,
    req("dest", Ty::Path, "The file on the host."),
    OWNER,
    GROUP,
    MODE,
    RENDER,
    key("restart", Ty::Bool, "The instance restarts when it changes."),
    key("secret", Ty::Bool, "Its content is never shown in a diff."),
    key(
        "layout",
        Ty::Map(LAYOUT),
        "The variables its template can use, of its instance.",
    ),
    SCOPE,
];
const REMOVE: &[Key] = &[
    req("path", Ty::Path, "A file or folder C(remove) deletes."),
    key(
        "unit",
        Ty::Bool,
        "A systemd unit file: systemd reloads once it is gone.",
    ),
    SCOPE,
];
const LOG_DIRS: &[Key] = &[taken(req("path", Ty::Path, "The folder.")), OWNER, GROUP, SCOPE];
const PROGRAM_FILES: &[Key] = &[
    req("supervisor", Ty::Str, "The instance."),
    req("program", Ty::Str, "The program or program group."),
    SRC,
    req(
        "dest",
        Ty::Path,
        "The file on the host, in the instance's include folder.",
    ),
    OWNER,
    GROUP,
    MODE,
    RENDER,
    key("process_group", Ty::Str, "The process group it defines."),
    NO_REMOVE,
    SCOPE,
];

const fn list(name: &'static str, items: &'static [Key], doc: &'static str) -> Key {
    with_default(key(name, Ty::Items(items), doc), "[]")
}

const FILES_DIR: Key = key(
    "hadeploy_files_dir",
    Ty::Path,
    "The folder of the files the roles send (C(src) of the items): the C(files/) folder of hadeploy's project.",
);

/// The description's variables (`vars`, then `encrypted_vars`), by name:
/// the inputs' expressions read them from here when the host has no
/// variable of the name, and the action plugin gives those to the
/// templates it renders. Written in the inputs, in no argument spec (a
/// check would decrypt every vault value).
pub const OWN_VARS: Key = key(
    "hadeploy_vars",
    Ty::AnyMap,
    "The description's variables, read where the host has none of the name.",
);

/// The version of hadeploy that wrote the inputs: the roles refuse inputs
/// of another version than the collection's (items a version writes are
/// what its module takes). Hand-written inputs may leave it out.
pub const INPUTS_VERSION: Key = key(
    "hadeploy_inputs_version",
    Ty::Str,
    "The version of hadeploy that wrote the inputs; the roles refuse another than the collection's.",
);

/// The inputs the action plugin reads from the host's variables, in no
/// argument spec.
pub const PLUGIN_INPUTS: [Key; 2] = [INPUTS_VERSION, OWN_VARS];

const BASE_GROUPS: Key = list("hadeploy_base_groups", GROUPS, "Groups.");
const BASE_USERS: Key = list("hadeploy_base_users", USERS, "Accounts.");
const BASE_KEYS: Key = list(
    "hadeploy_base_authorized_keys",
    AUTHORIZED_KEYS,
    "Lines of C(authorized_keys).",
);
const BASE_SUDOERS: Key = list("hadeploy_base_sudoers", SUDOERS, "C(sudo) rules.");
const BASE_FOLDERS: Key = list("hadeploy_base_folders", FOLDERS, "Folders.");
const BASE_FILES: Key = list("hadeploy_base_files", FILES, "Files.");
const BASE_SUPERVISORS: Key = Key {
    role_default: Some("\"{{ hadeploy_supervisor_instances | default([]) }}\""),
    ..key(
        "hadeploy_base_supervisors",
        Ty::Items(INSTANCES),
        "The supervisord instances whose programs the files notify: by default, O(hadeploy_supervisor_instances).",
    )
};

const SUP_INSTANCES: Key = list("hadeploy_supervisor_instances", INSTANCES, "supervisord instances.");
const SUP_DIRS: Key = list(
    "hadeploy_supervisor_dirs",
    DIRS,
    "The folders of the managed instances.",
);
const SUP_FILES: Key = list(
    "hadeploy_supervisor_files",
    INSTANCE_FILES,
    "The managed instances' files: configuration, systemd unit, C(supervisorctl_NAME).",
);
const SUP_REMOVE: Key = list(
    "hadeploy_supervisor_remove",
    REMOVE,
    "What C(remove) deletes of the instances.",
);
const SUP_LOG_DIRS: Key = list(
    "hadeploy_supervisor_log_dirs",
    LOG_DIRS,
    "Programs' log folders, created when missing.",
);
const SUP_PROGRAM_FILES: Key = list(
    "hadeploy_supervisor_program_files",
    PROGRAM_FILES,
    "Program and program group files.",
);
const SUP_INSTALL: Key = with_default(
    key(
        "hadeploy_supervisor_install",
        Ty::Bool,
        "The host may get the C(supervisor) package (it needs root there).",
    ),
    "true",
);
const SUP_PROGRAMS: Key = with_default(
    key(
        "hadeploy_supervisor_programs",
        Ty::Strs,
        "Only these programs or process groups, whatever their state; the services are left as they are.",
    ),
    "[]",
);
const SUP_STATUS_DIR: Key = key(
    "hadeploy_supervisor_status_dir",
    Ty::Path,
    "A folder of the controller where C(status) writes each host's answer (C(HOST.json)).",
);
const SUP_PLAN_DIR: Key = key(
    "hadeploy_supervisor_plan_dir",
    Ty::Path,
    "A folder of the controller where C(plan) writes each host's answer (C(HOST.json)).",
);
const SUP_LOGS_DIR: Key = key(
    "hadeploy_supervisor_logs_dir",
    Ty::Path,
    "A folder of the controller where C(logs) writes each host's answer (C(HOST.json)).",
);
const SUP_LOGS_LINES: Key = with_default(
    key("hadeploy_supervisor_logs_lines", Ty::Int, "How many lines of each log."),
    "20",
);
const SUP_LOGS_STREAM: Key = with_default(
    one_of(
        key("hadeploy_supervisor_logs_stream", Ty::Str, "Which log."),
        &["stdout", "stderr"],
    ),
    "stdout",
);
const SUP_LOGS_PROGRAM: Key = key(
    "hadeploy_supervisor_logs_program",
    Ty::Str,
    "Only the processes of this program or group.",
);

/// The lists of items the role's module takes from the roles' inputs: its
/// option, and the items of the input whose keys marked `taken` it
/// takes (the action plugin picks them, and the module's argument spec
/// declares them: a test of the module checks both against
/// `plugins/module_utils/items.py`, which [`module_items`] writes).
pub const MODULE_ITEMS: [(&str, &[Key]); 9] = [
    ("supervisors", INSTANCES),
    ("dirs", DIRS),
    ("log_dirs", LOG_DIRS),
    ("notified", NOTIFIED),
    ("groups", GROUPS),
    ("users", USERS),
    ("authorized_keys", AUTHORIZED_KEYS),
    ("sudoers", SUDOERS),
    ("folders", FOLDERS),
];

/// Where [`module_items`] is kept in the collection.
pub const MODULE_ITEMS_PY: &str = "plugins/module_utils/items.py";

/// The collection's `module_utils/items.py`: of each of [`MODULE_ITEMS`],
/// the keys the module takes of an item (`ITEM_KEYS`), of an instance's
/// processes and health checks (`PROCESS_KEYS`, `HEALTHCHECK_KEYS`), and
/// what an instance's own templates can use (`LAYOUT_VARS`).
pub fn module_items() -> String {
    let mut out = String::from(
        "# -*- coding: utf-8 -*-\n\
         # Generated by hadeploy from crates/hadeploy-codegen/src/inputs.rs, which\n\
         # declares the roles' inputs (`HADEPLOY_BLESS=1 cargo test -p hadeploy-codegen\n\
         # module_items`): of their items, the keys the role's module takes, as its\n\
         # argument spec declares them. The module builds its spec from these, and\n\
         # the action plugin gives it these keys of each item.\n\n\
         from __future__ import absolute_import, division, print_function\n\n\
         __metaclass__ = type\n\n\
         # By the module's option: the options of one of its items.\n\
         ITEM_OPTIONS = {\n",
    );
    for (option, keys) in MODULE_ITEMS {
        out.push_str(&format!("    \"{option}\": {{\n"));
        py_options(&mut out, keys, 8);
        out.push_str("    },\n");
    }
    out.push_str(
        "}\n\n\
         # The keys of each, in that order.\n\
         ITEM_KEYS = dict((option, tuple(keys)) for option, keys in ITEM_OPTIONS.items())\n\
         # Of an instance's `processes` and `healthchecks`.\n\
         PROCESS_KEYS = tuple(ITEM_OPTIONS[\"supervisors\"][\"processes\"][\"options\"])\n\
         HEALTHCHECK_KEYS = tuple(ITEM_OPTIONS[\"supervisors\"][\"healthchecks\"][\"options\"])\n",
    );
    let layout: Vec<String> = LAYOUT.iter().map(|k| format!("\"{}\"", k.name)).collect();
    out.push_str(&format!(
        "\n# What an instance's own templates (a `conf_file_src`) can use, of its layout.\n\
         LAYOUT_VARS = ({})\n",
        layout.join(", ")
    ));
    out.push_str(&format!(
        "\n# How the files of programs and groups in an instance's include folder are\n\
         # named: those no longer described are removed.\n\
         PROGRAM_FILE_SUFFIXES = (\"{}\", \"{}\")\n",
        crate::layout::PROGRAM_FILE_SUFFIX,
        crate::layout::GROUP_FILE_SUFFIX
    ));
    out
}

/// The keys of `keys` the module takes, one per line at `ind`, each as its
/// argument spec declares it: a path as a string (AnsibleModule's `path`
/// would expand `~` and `$VAR` on the host), a list of items `[]` by
/// default.
fn py_options(out: &mut String, keys: &[Key], ind: usize) {
    let pad = " ".repeat(ind);
    for k in keys.iter().filter(|k| k.to_module) {
        let (ty, elements) = match k.ty {
            Ty::Str | Ty::Path => ("str", None),
            Ty::Bool => ("bool", None),
            Ty::Int => ("int", None),
            Ty::Strs => ("list", Some("str")),
            Ty::Items(_) => ("list", Some("dict")),
            Ty::Map(_) | Ty::AnyItems | Ty::AnyMap => unreachable!("{}: not a key the module takes", k.name),
        };
        let mut fields = vec![format!("\"type\": \"{ty}\"")];
        if let Some(e) = elements {
            fields.push(format!("\"elements\": \"{e}\""));
        }
        if k.required {
            fields.push("\"required\": True".into());
        }
        let default = match (k.default, k.ty) {
            (Some("true"), _) => Some("True".to_string()),
            (Some("false"), _) => Some("False".to_string()),
            (Some(d), Ty::Int) => Some(d.to_string()),
            (Some(d), _) => Some(format!("\"{d}\"")),
            (None, Ty::Items(_)) => Some("[]".to_string()),
            (None, _) => None,
        };
        if let Some(d) = default {
            fields.push(format!("\"default\": {d}"));
        }
        if !k.choices.is_empty() {
            let c: Vec<String> = k.choices.iter().map(|c| format!("\"{c}\"")).collect();
            fields.push(format!("\"choices\": [{}]", c.join(", ")));
        }
        if let Some(hide) = k.no_log {
            fields.push(format!("\"no_log\": {}", if hide { "True" } else { "False" }));
        }
        match k.ty {
            Ty::Items(sub) => {
                out.push_str(&format!(
                    "{pad}\"{}\": {{{}, \"options\": {{\n",
                    k.name,
                    fields.join(", ")
                ));
                py_options(out, sub, ind + 4);
                out.push_str(&format!("{pad}}}}},\n"));
            }
            _ => out.push_str(&format!("{pad}\"{}\": {{{}}},\n", k.name, fields.join(", "))),
        }
    }
}

/// One of a role's entry points: a file of its `tasks/`.
pub struct EntryPoint {
    /// The file's name, without `.yml`.
    pub name: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// The inputs it reads.
    pub inputs: &'static [Key],
    /// The inputs of the collection's other role it reads too: in its
    /// argument spec, not among this role's inputs (nor its defaults).
    pub reads: &'static [Key],
}

/// A role and its entry points.
pub struct Role {
    /// Its name in the collection.
    pub name: &'static str,
    /// What it deploys.
    pub doc: &'static str,
    /// The input `tasks/main.yml` dispatches on.
    pub action: Key,
    /// Its entry points but `main`.
    pub entry_points: &'static [EntryPoint],
}

impl Role {
    /// Every input of the role, each once, in the order of its entry points.
    pub fn inputs(&self) -> Vec<&'static Key> {
        let mut out: Vec<&'static Key> = Vec::new();
        for e in self.entry_points {
            for k in e.inputs {
                if !out.iter().any(|o| o.name == k.name) {
                    out.push(k);
                }
            }
        }
        out
    }
}

/// The roles of the collection.
pub const ROLES: [Role; 2] = [
    Role {
        name: "hadeploy_base",
        doc: "Groups, users, ssh keys, sudo rules, folders and files, as described to hadeploy.",
        action: with_default(
            one_of(
                key(
                    "hadeploy_base_action",
                    Ty::Str,
                    "What C(main) does: the entry point it runs.",
                ),
                &["deploy", "remove"],
            ),
            "deploy",
        ),
        entry_points: &[
            EntryPoint {
                name: "deploy",
                doc: "Creates or updates groups, users, keys, sudo rules, folders and files that differ.",
                inputs: &[
                    BASE_GROUPS,
                    BASE_USERS,
                    BASE_KEYS,
                    BASE_SUDOERS,
                    BASE_FOLDERS,
                    BASE_FILES,
                    BASE_SUPERVISORS,
                    FILES_DIR,
                ],
                reads: &[],
            },
            EntryPoint {
                name: "remove",
                doc: "Removes them, but those marked no_remove.",
                inputs: &[BASE_GROUPS, BASE_USERS, BASE_SUDOERS, BASE_FOLDERS, BASE_FILES],
                reads: &[],
            },
        ],
    },
    Role {
        name: "hadeploy_supervisor",
        doc: "supervisord instances and their programs, as described to hadeploy.",
        action: with_default(
            one_of(
                key(
                    "hadeploy_supervisor_action",
                    Ty::Str,
                    "What C(main) does: the entry point it runs.",
                ),
                &["deploy", "remove", "start", "stop", "restart", "status", "logs", "plan"],
            ),
            "deploy",
        ),
        entry_points: &[
            EntryPoint {
                name: "deploy",
                doc: "Installs the instances and their programs, and brings them to their state.",
                inputs: &[
                    SUP_INSTANCES,
                    SUP_DIRS,
                    SUP_FILES,
                    SUP_REMOVE,
                    SUP_LOG_DIRS,
                    SUP_PROGRAM_FILES,
                    SUP_INSTALL,
                    FILES_DIR,
                ],
                reads: &[],
            },
            EntryPoint {
                name: "remove",
                doc: "Stops and removes the programs and the managed instances, but those marked no_remove.",
                inputs: &[
                    SUP_INSTANCES,
                    SUP_DIRS,
                    SUP_FILES,
                    SUP_REMOVE,
                    SUP_LOG_DIRS,
                    SUP_PROGRAM_FILES,
                ],
                reads: &[],
            },
            EntryPoint {
                name: "start",
                doc: "Starts the managed instances' services, then the programs; or only the programs named.",
                inputs: &[SUP_INSTANCES, SUP_PROGRAMS],
                reads: &[],
            },
            EntryPoint {
                name: "stop",
                doc: "Stops the programs, then the managed instances' services; or only the programs named.",
                inputs: &[SUP_INSTANCES, SUP_PROGRAMS],
                reads: &[],
            },
            EntryPoint {
                name: "restart",
                doc: "Restarts the programs (or those named), then tries their health checks; the instances' \
                      services are left as they are.",
                inputs: &[SUP_INSTANCES, SUP_PROGRAMS],
                reads: &[],
            },
            EntryPoint {
                name: "status",
                doc: "Reports every instance and program of the host, or the programs named.",
                inputs: &[SUP_INSTANCES, SUP_PROGRAMS, SUP_STATUS_DIR],
                reads: &[],
            },
            EntryPoint {
                name: "logs",
                doc: "Shows the last lines of every program's log.",
                inputs: &[
                    SUP_INSTANCES,
                    SUP_LOGS_DIR,
                    SUP_LOGS_LINES,
                    SUP_LOGS_STREAM,
                    SUP_LOGS_PROGRAM,
                ],
                reads: &[],
            },
            EntryPoint {
                name: "plan",
                doc: "Tells what a deploy of both roles would change on the host, changing nothing.",
                inputs: &[
                    SUP_INSTANCES,
                    SUP_DIRS,
                    SUP_FILES,
                    SUP_LOG_DIRS,
                    SUP_PROGRAM_FILES,
                    SUP_INSTALL,
                    SUP_PLAN_DIR,
                    FILES_DIR,
                ],
                reads: &[
                    BASE_GROUPS,
                    BASE_USERS,
                    BASE_KEYS,
                    BASE_SUDOERS,
                    BASE_FOLDERS,
                    BASE_FILES,
                ],
            },
        ],
    },
];

/// Where [`role_defaults`] is kept in a role.
pub const ROLE_DEFAULTS: &str = "defaults/main.yml";

/// The role's `defaults/main.yml`: the action it runs and every input that
/// has a default, with it; those that have none named in a comment.
pub fn role_defaults(role: &Role) -> String {
    let mut out = String::from(
        "---\n# Generated by hadeploy from the roles' inputs as its code declares them\n\
         # (crates/hadeploy-codegen/src/inputs.rs; `HADEPLOY_BLESS=1 cargo test -p\n\
         # hadeploy-codegen role_defaults`). meta/argument_specs.yml says what each\n\
         # item holds. hadeploy writes them all (vars/hadeploy.yml of its project),\n\
         # every item with its `scope`: the hosts and host groups it goes to.\n",
    );
    let mut unset = Vec::new();
    for k in std::iter::once(&role.action).chain(role.inputs()) {
        let Some(value) = k.role_default.or(k.default) else {
            unset.push(k);
            continue;
        };
        comment(&mut out, "", &plain(k.doc));
        out.push_str(&format!("{}: {value}\n", k.name));
    }
    if !unset.is_empty() {
        out.push_str("# Not set unless given:\n");
        for k in unset {
            comment(&mut out, "- ", &format!("{}: {}", k.name, plain(k.doc)));
        }
    }
    out
}

/// `text` as YAML comment lines of at most 79 characters, the first
/// after `bullet`, the others under it.
fn comment(out: &mut String, bullet: &str, text: &str) {
    let mut line = format!("# {bullet}");
    let indent = format!("# {}", " ".repeat(bullet.len()));
    let mut fresh = true;
    for word in text.split_whitespace() {
        if !fresh && line.len() + 1 + word.len() > 79 {
            out.push_str(&line);
            out.push('\n');
            line.clone_from(&indent);
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        line.push_str(word);
        fresh = false;
    }
    out.push_str(&line);
    out.push('\n');
}

/// `doc` without Ansible's markup: `C(x)` and `V(x)` as `` `x` ``, `O(x)`
/// as `x`.
fn plain(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len());
    let mut rest = doc;
    while let Some(at) = ["C(", "O(", "V("].iter().filter_map(|m| rest.find(m)).min() {
        let (before, tail) = rest.split_at(at);
        out.push_str(before);
        let Some(end) = tail.find(')') else {
            out.push_str(tail);
            return out;
        };
        let inner = &tail[2..end];
        if tail.starts_with('O') {
            out.push_str(inner);
        } else {
            out.push('`');
            out.push_str(inner);
            out.push('`');
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The role's `meta/argument_specs.yml`: `main` (every input, and the
/// action it runs) and each entry point with the inputs it reads.
pub fn argument_specs(role: &Role) -> String {
    let mut out = String::from(
        "---\n# Generated by hadeploy from the roles' inputs as its code declares them\n\
         # (crates/hadeploy-codegen/src/inputs.rs). Ansible checks the inputs\n\
         # against it before the role's first task.\nargument_specs:\n",
    );
    let mut main: Vec<&Key> = vec![&role.action];
    main.extend(role.inputs());
    entry(&mut out, "main", role.doc, &main);
    for e in role.entry_points {
        let inputs: Vec<&Key> = e.inputs.iter().chain(e.reads).collect();
        entry(&mut out, e.name, e.doc, &inputs);
    }
    out
}

fn entry(out: &mut String, name: &str, doc: &str, inputs: &[&Key]) {
    out.push_str(&format!("  {name}:\n    short_description: "));
    out.push_str(&quote::yaml_str(doc));
    out.push_str("\n    options:\n");
    for k in inputs {
        option(out, k, 6);
    }
}

fn option(out: &mut String, k: &Key, ind: usize) {
    let pad = " ".repeat(ind);
    out.push_str(&format!("{pad}{}:\n", k.name));
    let pad = " ".repeat(ind + 2);
    out.push_str(&format!("{pad}description: {}\n", quote::yaml_str(k.doc)));
    let (ty, elements, keys) = match k.ty {
        Ty::Str => ("str", None, None),
        Ty::Bool => ("bool", None, None),
        Ty::Int => ("int", None, None),
        Ty::Path => ("path", None, None),
        Ty::Strs => ("list", Some("str"), None),
        Ty::Items(keys) => ("list", Some("dict"), Some(keys)),
        Ty::Map(keys) => ("dict", None, Some(keys)),
        Ty::AnyItems => ("list", Some("dict"), None),
        Ty::AnyMap => ("dict", None, None),
    };
    out.push_str(&format!("{pad}type: {ty}\n"));
    if let Some(e) = elements {
        out.push_str(&format!("{pad}elements: {e}\n"));
    }
    if k.required {
        out.push_str(&format!("{pad}required: true\n"));
    }
    if let Some(d) = k.default {
        out.push_str(&format!("{pad}default: {d}\n"));
    }
    if !k.choices.is_empty() {
        out.push_str(&format!("{pad}choices: [{}]\n", k.choices.join(", ")));
    }
    if let Some(keys) = keys {
        out.push_str(&format!("{pad}options:\n"));
        for sub in keys {
            option(out, sub, ind + 4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The collection's argument specs, kept in `roles-templates/` so that
    /// projects copy them, are what [`argument_specs`] writes from the
    /// inputs. `HADEPLOY_BLESS=1 cargo test -p hadeploy-codegen argument_specs`
    /// writes them again after a change of the inputs.
    #[test]
    fn argument_specs_are_written_from_the_inputs() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../roles-templates")
            .join(crate::templates::COLLECTION);
        for role in &ROLES {
            let path = dir.join(format!("roles/{}/meta/argument_specs.yml", role.name));
            let want = argument_specs(role);
            if std::env::var_os("HADEPLOY_BLESS").is_some() {
                std::fs::write(&path, &want).unwrap();
            }
            let have = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                have == want,
                "{} is not what the inputs give: HADEPLOY_BLESS=1 cargo test -p hadeploy-codegen argument_specs",
                path.display()
            );
        }
    }

    /// Each role's `defaults/main.yml` is what [`role_defaults`] writes
    /// from the inputs. `HADEPLOY_BLESS=1 cargo test -p hadeploy-codegen
    /// role_defaults` writes them again.
    #[test]
    fn role_defaults_are_written_from_the_inputs() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../roles-templates")
            .join(crate::templates::COLLECTION);
        for role in &ROLES {
            let path = dir.join(format!("roles/{}/{ROLE_DEFAULTS}", role.name));
            let want = role_defaults(role);
            if std::env::var_os("HADEPLOY_BLESS").is_some() {
                std::fs::write(&path, &want).unwrap();
            }
            assert!(
                std::fs::read_to_string(&path).unwrap_or_default() == want,
                "{} is not what the inputs give: HADEPLOY_BLESS=1 cargo test -p hadeploy-codegen role_defaults",
                path.display()
            );
        }
    }

    #[test]
    fn markup_leaves_the_defaults_comments() {
        assert_eq!(
            plain("Only O(hadeploy_x) in C(HOST.json), V(true) (C) Or."),
            "Only hadeploy_x in `HOST.json`, `true` (C) Or."
        );
    }

    /// The collection's `module_utils/items.py` is what [`module_items`]
    /// writes from the inputs. `HADEPLOY_BLESS=1 cargo test -p
    /// hadeploy-codegen module_items` writes it again.
    #[test]
    fn module_items_are_written_from_the_inputs() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../roles-templates")
            .join(crate::templates::COLLECTION)
            .join(MODULE_ITEMS_PY);
        let want = module_items();
        if std::env::var_os("HADEPLOY_BLESS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        assert!(
            std::fs::read_to_string(&path).unwrap_or_default() == want,
            "{} is not what the inputs give: HADEPLOY_BLESS=1 cargo test -p hadeploy-codegen module_items",
            path.display()
        );
    }

    #[test]
    fn every_input_carries_its_role_s_prefix_or_is_shared() {
        for role in &ROLES {
            for k in role.inputs().into_iter().chain([&role.action]) {
                assert!(
                    k.name.starts_with(&format!("{}_", role.name)) || k.name == FILES_DIR.name,
                    "{}: {}",
                    role.name,
                    k.name
                );
                assert!(!k.name.contains("__"), "{} is an internal name", k.name);
            }
        }
    }
}
