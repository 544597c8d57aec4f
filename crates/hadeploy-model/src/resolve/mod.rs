//! From the loaded tree to the resolved [`Model`]: types every value, applies
//! defaults, resolves every name, and checks every rule of the reference.

mod healthcheck;
mod inventory;
mod inventory_file;
mod supervisor;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use indexmap::IndexMap;

use crate::error::{Diagnostic, ErrorKind, Sink, did_you_mean};
use crate::format::{self, SECTIONS};
use crate::load::Loaded;
use crate::model::{File, FileSource, Folder, LocalSource, Model, Scope, UnixGroup, User};
use crate::read::{Fields, Spanned, local_path, section_items};
use crate::span::{SourceMap, Span};
use crate::tree::{Node, NodeKind, Typed};

pub(crate) use inventory::Inventory;
pub use inventory::MAX_PLACEMENTS;
pub use inventory_file::{InventoryLister, Listed};

/// What every step of the resolution needs: the inventory, the sources, the local folders.
pub(crate) struct Cx<'a> {
    pub(crate) inv: Inventory,
    pub(crate) sources: &'a SourceMap,
    files_folders: Vec<PathBuf>,
    templates_folders: Vec<PathBuf>,
    /// Names of every supervisor item, valid or not.
    pub(crate) declared_supervisors: HashSet<String>,
    /// (supervisor, program) of every program item, valid or not: a
    /// reference to an invalid one is not reported again.
    pub(crate) declared_programs: HashSet<(String, String)>,
}

pub(crate) fn resolve(loaded: &Loaded, lister: Option<&dyn InventoryLister>, sink: &mut Sink) -> Model {
    let root = &loaded.root;
    for (k, _) in root {
        let key = k.as_scalar().map(|s| s.text.as_str()).unwrap_or_default();
        if let Some(plugin) = format::OTHER_PLUGIN_SECTIONS
            .iter()
            .find(|(n, _)| *n == key)
            .map(|(_, p)| *p)
        {
            sink.push(Diagnostic::other_plugin(format!("section `{key}`"), plugin, k.span));
        } else if format::section(key).is_none() {
            let names = || SECTIONS.iter().map(|s| s.name);
            let help = did_you_mean(key, names()).unwrap_or_else(|| {
                format!(
                    "the sections this tool reads are: {}",
                    names().collect::<Vec<_>>().join(", ")
                )
            });
            sink.push(
                Diagnostic::new(
                    ErrorKind::UnknownKey {
                        key: key.to_string(),
                        what: "the description".into(),
                    },
                    k.span,
                )
                .help(help),
            );
        }
    }
    crate::expr::check_tree(root, &loaded.vars, sink);
    let mut inv = inventory::build(root, &loaded.sources, lister, sink);
    let vault_ids = std::mem::take(&mut inv.vault_ids);
    if inv.hosts.is_empty()
        && root
            .iter()
            .any(|(k, _)| k.as_scalar().is_some_and(|s| s.text != "exit_on_fail"))
    {
        sink.push(
            Diagnostic::unplaced(ErrorKind::MissingKey {
                key: "hosts",
                what: "the description".into(),
            })
            .help("describe the target hosts in a `hosts:` section, or pass the file that does with another `--src`"),
        );
    }
    let mut cx = Cx {
        inv,
        sources: &loaded.sources,
        files_folders: folders_list(root, "local_files_folders", &loaded.sources, sink),
        templates_folders: folders_list(root, "local_templates_folders", &loaded.sources, sink),
        declared_supervisors: HashSet::new(),
        declared_programs: declared_programs(root),
    };
    let exit_on_fail = match root
        .iter()
        .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "exit_on_fail"))
    {
        None => true,
        Some((_, v)) => match v.as_scalar().map(|s| s.typed()) {
            Some(Typed::Bool(b)) => b,
            _ => {
                crate::read::wrong("exit_on_fail", "a boolean (yes/no)", v, sink);
                true
            }
        },
    };
    let rolling = root
        .iter()
        .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "rolling"))
        .and_then(|(_, v)| healthcheck::rolling(v, sink));
    let item_scope =
        |w: &str| crate::model::names_hosts(w, |p| cx.inv.hosts.contains_key(p) || cx.inv.groups.contains_key(p));
    let included_scopes = scopes_list(root, "included_scopes", &item_scope, sink);
    let excluded_scopes = scopes_list(root, "excluded_scopes", &item_scope, sink);
    let groups = unix_groups(root, &cx, sink);
    let users = users(root, &cx, sink);
    let folders = folders(root, &cx, sink);
    let supervisors = supervisor::build(root, &mut cx, sink);
    let files = files(root, &cx, &supervisors, sink);
    let vars = loaded
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), crate::tree::to_json(v)))
        .collect();
    let var_files = loaded
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), loaded.sources.get(v.span.file).path.clone()))
        .collect();
    let encrypted_vars = encrypted_vars(root, &loaded.vars, sink);
    Model {
        exit_on_fail,
        rolling,
        included_scopes,
        excluded_scopes,
        hosts: cx.inv.hosts,
        host_groups: cx.inv.groups,
        vars,
        var_files,
        encrypted_vars,
        vault_ids,
        groups,
        users,
        folders,
        files,
        supervisors,
    }
}

/// (supervisor, name) of every `supervisor_programs` item that has both,
/// read without checking anything (the items' own reading reports).
fn declared_programs(root: &[(Node, Node)]) -> HashSet<(String, String)> {
    let text = |m: &[(Node, Node)], key: &str| {
        m.iter()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key))
            .and_then(|(_, v)| v.as_scalar())
            .map(|s| s.text.clone())
    };
    root.iter()
        .filter(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "supervisor_programs"))
        .filter_map(|(_, v)| match &v.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        })
        .flatten()
        .filter_map(|item| {
            let m = item.as_map()?;
            Some((text(m, "supervisor")?, text(m, "name")?))
        })
        .collect()
}

/// `encrypted_vars`: each value an Ansible Vault value, as `ansible-vault
/// encrypt_string` prints it (`!vault |` then the block, or the block as a
/// plain string). Kept as the header line and the hex lines, which is all
/// a vault holds, so that nothing else can be written where they go.
fn encrypted_vars(root: &[(Node, Node)], vars: &IndexMap<String, Node>, sink: &mut Sink) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    let Some((_, node)) = root
        .iter()
        .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == "encrypted_vars"))
    else {
        return out;
    };
    let entries = match &node.kind {
        NodeKind::Map(entries) => entries,
        _ if node.is_null() => return out,
        _ => {
            crate::read::wrong("encrypted_vars", "a map of variables", node, sink);
            return out;
        }
    };
    for (k, v) in entries {
        let name = k.as_scalar().map(|s| s.text.as_str()).unwrap_or_default();
        if !format::is_var_name(name) {
            sink.push(
                Diagnostic::invalid_value(
                    "encrypted_vars",
                    format!("`{}` is not a variable name", name.escape_debug()),
                    k.span,
                )
                .help("use letters, digits and `_`, starting with a letter or `_`"),
            );
            continue;
        }
        if vars.contains_key(name) {
            sink.push(
                Diagnostic::duplicate("variable", name.to_string(), k.span)
                    .help("a variable is either in `vars` or in `encrypted_vars`: remove one"),
            );
            continue;
        }
        match v.as_scalar().and_then(|s| vault_text(&s.text)) {
            Some(text) => {
                out.insert(name.to_string(), text);
            }
            None => sink.push(
                Diagnostic::invalid_value(
                    "encrypted_vars",
                    format!(
                        "`{name}` is not an Ansible Vault value (`$ANSIBLE_VAULT;1.1;AES256` and lines of hex digits)"
                    ),
                    v.span,
                )
                .help(format!(
                    "encrypt it with `ansible-vault encrypt_string --name {name}` and paste the `!vault |` block; a clear value belongs in `vars`"
                ))
                .secret(),
            ),
        }
    }
    out
}

/// An Ansible Vault value, normalised to its header and hex lines, each
/// trimmed; `None` for anything else.
pub(crate) fn vault_text(text: &str) -> Option<String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let header = lines.next()?;
    let fields: Vec<&str> = header.split(';').collect();
    let header_ok = fields.first() == Some(&"$ANSIBLE_VAULT")
        && matches!(fields.len(), 3 | 4)
        && fields[1..].iter().all(|f| {
            !f.is_empty()
                && f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        });
    let body: Vec<&str> = lines.collect();
    let body_ok = !body.is_empty() && body.iter().all(|l| l.bytes().all(|b| b.is_ascii_hexdigit()));
    (header_ok && body_ok).then(|| std::iter::once(header).chain(body).collect::<Vec<_>>().join("\n"))
}

/// `included_scopes` or `excluded_scopes`: scope words, HADeploy's other
/// plugins' included (they select nothing here), and its file scopes (host
/// and group names, `item_scope`).
fn scopes_list(root: &[(Node, Node)], key: &str, item_scope: &dyn Fn(&str) -> bool, sink: &mut Sink) -> Vec<String> {
    let mut out = Vec::new();
    for s in strings_list(root, key, "a list of scopes", sink) {
        for word in s.value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            if format::SCOPES.contains(&word) || format::OTHER_SCOPES.contains(&word) || item_scope(word) {
                out.push(word.to_string());
            } else {
                let help = did_you_mean(word, format::SCOPES.iter().copied()).unwrap_or_else(|| {
                    format!(
                        "the scopes are: {}, and hosts or host groups (for files and folders)",
                        format::SCOPES.join(", ")
                    )
                });
                sink.push(Diagnostic::invalid_value(key, format!("`{word}` is not a scope"), s.span).help(help));
            }
        }
    }
    out
}

fn folders_list(root: &[(Node, Node)], key: &str, sources: &SourceMap, sink: &mut Sink) -> Vec<PathBuf> {
    strings_list(root, key, "a list of folders", sink)
        .into_iter()
        .map(|s| local_path(&s.value, s.span, sources))
        .collect()
}

/// The strings of the top-level `key`, a list of them or one (HADeploy
/// takes both); nothing when it is absent, and an error (`what` it should
/// be) for a map.
fn strings_list(root: &[(Node, Node)], key: &str, what: &'static str, sink: &mut Sink) -> Vec<Spanned<String>> {
    let Some((_, node)) = root.iter().find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key)) else {
        return Vec::new();
    };
    let items: Vec<&Node> = match &node.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        NodeKind::Scalar(_) => vec![node],
        NodeKind::Map(_) => {
            crate::read::wrong(key, what, node, sink);
            return Vec::new();
        }
    };
    items
        .into_iter()
        .filter_map(|i| crate::read::string(i, key, sink))
        .collect()
}

impl Cx<'_> {
    /// The item's `scope`, or `default` when it has none.
    pub(crate) fn scope(&self, f: &Fields<'_>, default: Option<&Scope>, sink: &mut Sink) -> Option<Scope> {
        match (f.opt_str("scope", sink), default) {
            (Some(expr), _) => self.inv.scope(&expr, sink),
            (None, Some(d)) => self.inv.place(d.hosts.len(), f.span, sink).then(|| d.clone()),
            (None, None) => self.inv.scope(
                &Spanned {
                    value: "all".into(),
                    span: f.span,
                },
                sink,
            ),
        }
    }

    /// Resolves `file://name` or `tmpl://name` to a local file.
    pub(crate) fn local_source(&self, src: &Spanned<String>, key: &str, sink: &mut Sink) -> Option<LocalSource> {
        let (scheme, rest) = src.value.split_once("://").unwrap_or(("", &src.value));
        let (what, folders, folders_key) = match scheme {
            "file" => ("file", &self.files_folders, "local_files_folders"),
            "tmpl" => ("template", &self.templates_folders, "local_templates_folders"),
            _ => {
                sink.push(
                    Diagnostic::invalid_value(
                        key,
                        format!("`{}` is neither `file://...` nor `tmpl://...`", src.value),
                        src.span,
                    )
                    .help("write `file://NAME` to copy a file or `tmpl://NAME` to render a template"),
                );
                return None;
            }
        };
        let found = if rest.starts_with('/') {
            let p = PathBuf::from(rest);
            p.is_file().then_some(p)
        } else {
            folders.iter().map(|f| f.join(rest)).find(|p| p.is_file())
        };
        let Some(path) = found else {
            let help = if rest.starts_with('/') {
                "an absolute path must name an existing local file".to_string()
            } else if folders.is_empty() {
                format!("add a `{folders_key}:` list naming the folder that holds it")
            } else {
                let list: Vec<String> = folders.iter().map(|f| f.display().to_string()).collect();
                format!("looked in `{folders_key}`: {}", list.join(", "))
            };
            sink.push(
                Diagnostic::new(
                    ErrorKind::LocalFileNotFound {
                        what,
                        name: rest.to_string(),
                    },
                    src.span,
                )
                .help(help),
            );
            return None;
        };
        self.sources.note_input(path.clone(), Some(src.span));
        Some(if scheme == "file" {
            LocalSource::File(path)
        } else {
            LocalSource::Template(path)
        })
    }
}

fn unix_groups(root: &[(Node, Node)], cx: &Cx<'_>, sink: &mut Sink) -> Vec<UnixGroup> {
    let mut out: Vec<UnixGroup> = Vec::new();
    let mut seen = Seen::default();
    for item in section_items(root, "groups", sink) {
        let Some(f) = Fields::new(item, &format::GROUP, sink) else {
            continue;
        };
        let name = f.req_str("name", sink);
        let scope = cx.scope(&f, None, sink);
        let (system, managed, no_remove) = (
            f.bool_or("system", false, sink),
            f.bool_or("managed", true, sink),
            f.bool_or("no_remove", false, sink),
        );
        let (Some(name), Some(scope)) = (name, scope) else {
            continue;
        };
        if check_account_name("group", &name, sink) && managed && crate::system::is_system_group(&name.value) {
            sink.push(
                Diagnostic::invalid_value(
                    "name",
                    format!(
                        "`{}` is a group of the system: a description cannot create, change nor remove it",
                        name.value
                    ),
                    name.span,
                )
                .help("add `managed: no` to refer to the existing group"),
            );
            continue;
        }
        if seen.check("group", &name, &scope, sink) {
            out.push(UnixGroup {
                name: name.value,
                system,
                managed,
                scope,
                no_remove,
            });
        }
    }
    out
}

fn users(root: &[(Node, Node)], cx: &Cx<'_>, sink: &mut Sink) -> Vec<User> {
    let mut out = Vec::new();
    let mut seen = Seen::default();
    for item in section_items(root, "users", sink) {
        let Some(f) = Fields::new(item, &format::USER, sink) else {
            continue;
        };
        let login = f.req_str("login", sink);
        let scope = cx.scope(&f, None, sink);
        let comment = f.opt_str("comment", sink).map(|s| s.value);
        let group = f.opt_str("group", sink);
        let groups = comma_list(f.opt_str("groups", sink));
        let can_sudo_to = comma_list(f.opt_str("can_sudo_to", sink));
        let password = f
            .opt_str("password", sink)
            .filter(|p| check_crypted(p, sink))
            .map(|s| s.value);
        let mut authorized_keys = Vec::new();
        for key in f.str_list("authorized_keys", sink) {
            authorized_keys.extend(authorized_keys_of(&key, cx.sources, sink));
        }
        let user = (
            f.bool_or("system", false, sink),
            f.bool_or("managed", true, sink),
            f.bool_or("create_home", true, sink),
            f.bool_or("no_remove", false, sink),
        );
        let (Some(login), Some(scope)) = (login, scope) else {
            continue;
        };
        let (system, managed, create_home, no_remove) = user;
        if check_account_name("user", &login, sink) && managed && crate::system::is_system_user(&login.value) {
            sink.push(
                Diagnostic::invalid_value("login", format!("`{}` is an account of the system: a description cannot create, change nor remove it", login.value), login.span)
                    .help("add `managed: no` to refer to the existing account (its `authorized_keys` and `can_sudo_to` still apply)"),
            );
            continue;
        }
        let privileged = f.bool_or("privileged_groups", false, sink);
        for g in group.iter().chain(groups.iter()) {
            if check_account_name("group", g, sink) && !privileged && crate::system::is_privileged_group(&g.value) {
                sink.push(
                    Diagnostic::invalid_value(
                        "groups",
                        format!("`{}` gives its members root's powers, or what only root reads", g.value),
                        g.span,
                    )
                    .help("add `privileged_groups: yes` to the user if this is meant"),
                );
            }
        }
        if !can_sudo_to.is_empty() {
            check_sudoers_word("login", &login, sink);
        }
        for target in &can_sudo_to {
            if check_account_name("user", target, sink) {
                check_sudoers_word("can_sudo_to", target, sink);
            }
        }
        if !seen.check("user", &login, &scope, sink) {
            continue;
        }
        out.push(User {
            login: login.value,
            comment,
            group: group.map(|g| g.value),
            groups: groups.into_iter().map(|g| g.value).collect(),
            system,
            managed,
            scope,
            can_sudo_to: can_sudo_to.into_iter().map(|g| g.value).collect(),
            create_home,
            password,
            no_remove,
            authorized_keys,
        });
    }
    out
}

/// The key lines of one `authorized_keys` file, each an OpenSSH public key.
fn authorized_keys_of(key: &Spanned<String>, sources: &SourceMap, sink: &mut Sink) -> Vec<String> {
    use crate::keys::KeyFileError;
    let path = local_path(&key.value, key.span, sources);
    let shown = path.display();
    let invalid = |reason: String| ErrorKind::InvalidValue {
        key: "authorized_keys".into(),
        reason,
    };
    let (kind, help) = match crate::keys::read_authorized_keys(&path) {
        Ok(keys) => return keys,
        Err(KeyFileError::Read(reason)) if reason == "no such file" => (
            ErrorKind::LocalFileNotFound {
                what: "public key file",
                name: key.value.clone(),
            },
            format!("no file at `{shown}`; key paths are relative to the file that names them"),
        ),
        Err(KeyFileError::Read(reason)) => (
            ErrorKind::Read {
                path: shown.to_string(),
                reason,
            },
            "name a public key file (`id_ed25519.pub`), relative to this file".to_string(),
        ),
        Err(KeyFileError::Private) => (
            invalid(format!("`{shown}` is a private key")),
            "give its `.pub`: a private key must never leave this machine".to_string(),
        ),
        Err(KeyFileError::Rfc4716) => (
            invalid(format!("`{shown}` holds an SSH2 (RFC 4716) public key, which sshd does not read")),
            format!("convert it with `ssh-keygen -i -f {shown}`"),
        ),
        Err(KeyFileError::NotAKey(line)) => (
            invalid(format!("line {line} of `{shown}` is not an OpenSSH public key")),
            "each line must be `[options] ssh-ed25519|ssh-rsa|ecdsa-...|sk-... BASE64 [comment]`, as `ssh-keygen` writes `.pub` files".to_string(),
        ),
        Err(KeyFileError::Empty) => (
            invalid(format!("`{shown}` holds no key")),
            "name a public key file (`id_ed25519.pub`)".to_string(),
        ),
    };
    sink.push(Diagnostic::new(kind, key.span).help(help));
    Vec::new()
}

/// A name written into a sudoers rule must name one account: `ALL` and
/// alias names (capitals, digits and `_`, starting with a capital) mean
/// something else to sudo; `login: ALL` would let everyone run anything.
fn check_sudoers_word(key: &str, name: &Spanned<String>, sink: &mut Sink) -> bool {
    let n = name.value.as_str();
    let reason = if n == "ALL" {
        "`ALL` is sudo's word for every account".to_string()
    } else if n.starts_with(|c: char| c.is_ascii_uppercase())
        && n.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        format!("`{n}` is written like a sudoers alias, which sudo would read instead of the account")
    } else {
        return true;
    };
    sink.push(
        Diagnostic::invalid_value(key, reason, name.span)
            .help("name the accounts one by one; a sudo rule for more belongs in your own sudoers files"),
    );
    false
}

/// A user's `password` as `/etc/shadow` holds it: crypted (`$6$...`,
/// `$y$...`, DES), a lock (`!`, `*`), or an Ansible expression that makes
/// one. A clear password would be written as is, and set as a hash that
/// matches nothing.
fn check_crypted(p: &Spanned<String>, sink: &mut Sink) -> bool {
    let v = p.value.as_str();
    let body = v.trim_start_matches('!');
    let crypt_chars = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || "./$=,+-".contains(c));
    let ok = v.contains("{{")
        || matches!(v, "!" | "*" | "!!" | "!*" | "*LK*")
        || (body.starts_with('$') && body.matches('$').count() >= 3 && crypt_chars(body))
        || (body.len() == 13 && crypt_chars(body) && !body.contains('$'));
    if !ok {
        sink.push(
            Diagnostic::invalid_value("password", "it is not crypted (`$6$...`, `$y$...`), and a clear password would be set as a hash that matches nothing", p.span)
            .help("crypt it with `openssl passwd -6` or `mkpasswd -m sha-512`, or keep it in `encrypted_vars` and write `\"{{ vault_pw | password_hash('sha512') }}\"`"),
        );
    }
    ok
}

fn comma_list(v: Option<Spanned<String>>) -> Vec<Spanned<String>> {
    let Some(v) = v else { return Vec::new() };
    v.value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Spanned {
            value: s.to_string(),
            span: v.span,
        })
        .collect()
}

/// Owner, group and mode, required on folders and files.
fn ownership(f: &Fields<'_>, sink: &mut Sink) -> Option<(String, String, String)> {
    let owner = f.req_str("owner", sink);
    let group = f.req_str("group", sink);
    let mode = f.req_str("mode", sink);
    let (owner, group, mode) = (owner?, group?, mode?);
    check_account_name("owner", &owner, sink);
    check_account_name("group", &group, sink);
    check_mode("mode", &mode, sink).then_some((owner.value, group.value, mode.value))
}

/// An octal mode such as `0755` or `755`.
pub(crate) fn check_mode(key: &str, mode: &Spanned<String>, sink: &mut Sink) -> bool {
    let ok = (3..=4).contains(&mode.value.len()) && mode.value.bytes().all(|b| (b'0'..=b'7').contains(&b));
    if !ok {
        sink.push(
            Diagnostic::invalid_value(key, format!("`{}` is not an octal mode", mode.value), mode.span)
                .help("write the mode as a quoted octal string, e.g. \"0755\""),
        );
    }
    ok
}

fn folders(root: &[(Node, Node)], cx: &Cx<'_>, sink: &mut Sink) -> Vec<Folder> {
    let mut out = Vec::new();
    let mut seen = Seen::default();
    for item in section_items(root, "folders", sink) {
        let Some(f) = Fields::new(item, &format::FOLDER, sink) else {
            continue;
        };
        let path = f.req_str("path", sink);
        let scope = cx.scope(&f, None, sink);
        let own = ownership(&f, sink);
        let no_remove = f.bool_or("no_remove", false, sink);
        let (Some(path), Some(scope), Some((owner, group, mode))) = (path, scope, own) else {
            continue;
        };
        let normal = Spanned {
            value: crate::system::host_path(&path.value).into_owned(),
            span: path.span,
        };
        if check_host_path("path", &path, sink)
            && check_not_system_path("path", "a folder", &normal, sink)
            && seen.check("folder", &normal, &scope, sink)
        {
            out.push(Folder {
                path: normal.value,
                scope,
                owner,
                group,
                mode,
                no_remove,
            });
        }
    }
    out
}

fn files(root: &[(Node, Node)], cx: &Cx<'_>, supervisors: &[crate::model::Supervisor], sink: &mut Sink) -> Vec<File> {
    let mut out = Vec::new();
    let mut seen = Seen::default();
    let index = supervisor::SupervisorIndex::of(supervisors);
    for item in section_items(root, "files", sink) {
        let Some(f) = Fields::new(item, &format::FILE, sink) else {
            continue;
        };
        let src = f.req_str("src", sink);
        let scope = cx.scope(&f, None, sink);
        let dest_folder = f.req_str("dest_folder", sink);
        let dest_name = f.opt_str("dest_name", sink);
        let own = ownership(&f, sink);
        let no_remove = f.bool_or("no_remove", false, sink);
        // Read, and checked, whatever `src` is.
        let download = Download {
            validate_certs: f.bool_or("validate_certs", true, sink),
            force_basic_auth: f.bool_or("force_basic_auth", false, sink),
            username: f.opt_str("url_username", sink).map(|s| s.value),
            password: f.opt_str("url_password", sink).map(|s| s.value),
        };
        let notify = f.str_list("notify", sink);
        let (Some(src), Some(scope), Some(dest_folder), Some((owner, group, mode))) = (src, scope, dest_folder, own)
        else {
            continue;
        };
        let source = file_source(&src, download, cx, sink);
        let Some(dest_name) = file_name(dest_name, &src, sink) else {
            continue;
        };
        let mut targets = Vec::new();
        for n in &notify {
            if let Some(t) = supervisor::notify_target(n, &scope, supervisors, &index, cx, sink) {
                targets.push(t);
            }
        }
        let Some(src) = source else { continue };
        if !check_host_path("dest_folder", &dest_folder, sink) {
            continue;
        }
        let file = File {
            src,
            scope,
            // `/` itself too: the file is `/NAME`.
            dest_folder: crate::system::host_path(&dest_folder.value)
                .trim_end_matches('/')
                .to_string(),
            dest_name: dest_name.value,
            owner,
            group,
            mode,
            no_remove,
            notify: targets,
        };
        let dest = Spanned {
            value: file.dest(),
            span: dest_folder.span,
        };
        if check_not_system_path("dest_folder", "a file", &dest, sink)
            && seen.check("file destination", &dest, &file.scope, sink)
        {
            out.push(file);
        }
    }
    out
}

/// Whether `v`, the value of `key`, is a URL of another HADeploy plugin's
/// (`hdfs://...`), reported then.
pub(super) fn other_plugin_scheme(v: &Spanned<String>, key: &str, sink: &mut Sink) -> bool {
    let Some(plugin) = format::other_plugin(&v.value) else {
        return false;
    };
    let scheme = v.value.split("://").next().unwrap_or_default();
    sink.push(Diagnostic::other_plugin(
        format!("`{scheme}://` in `{key}`"),
        plugin,
        v.span,
    ));
    true
}

/// How a file whose `src` is a URL is downloaded.
struct Download {
    validate_certs: bool,
    force_basic_auth: bool,
    username: Option<String>,
    password: Option<String>,
}

/// Where a file's content comes from (`src`): a URL (downloaded as
/// `download` says), or a local file or template; `None` once what is
/// wrong is reported.
fn file_source(src: &Spanned<String>, download: Download, cx: &Cx<'_>, sink: &mut Sink) -> Option<FileSource> {
    if src.value.starts_with("http://") || src.value.starts_with("https://") {
        let Download {
            validate_certs,
            force_basic_auth,
            username,
            password,
        } = download;
        return Some(FileSource::Url {
            url: src.value.clone(),
            validate_certs,
            force_basic_auth,
            username,
            password,
        });
    }
    if other_plugin_scheme(src, "src", sink) {
        return None;
    }
    cx.local_source(src, "src", sink).map(|s| match s {
        LocalSource::File(path) => FileSource::File { path },
        LocalSource::Template(path) => FileSource::Template { path },
    })
}

/// A file's name on the host: `dest_name`, or else HADeploy's default, the
/// source's base name as written (`tmpl://app.conf.j2` deploys
/// `app.conf.j2`); `None` once a name that is none is reported.
fn file_name(dest_name: Option<Spanned<String>>, src: &Spanned<String>, sink: &mut Sink) -> Option<Spanned<String>> {
    let name = dest_name.unwrap_or_else(|| {
        let base = src.value.split(['?', '#']).next().unwrap_or_default();
        Spanned {
            value: base.rsplit('/').next().unwrap_or_default().to_string(),
            span: src.span,
        }
    });
    if name.value.is_empty() || name.value.contains('/') || name.value == "." || name.value == ".." {
        sink.push(
            Diagnostic::invalid_value("dest_name", format!("`{}` is not a file name", name.value), name.span)
                .help("give `dest_name`, a file name without `/`"),
        );
        return None;
    }
    Some(name)
}

/// Names already used, by host, to reject duplicates that would collide on a host.
#[derive(Default)]
pub(crate) struct Seen {
    /// name -> host -> (order of the first item holding it there, its span).
    names: HashMap<String, HashMap<crate::model::HostId, (usize, Span)>>,
    items: usize,
}

impl Seen {
    /// Records `name` on `scope`; false (and an error) if a host already has
    /// it. Costs the scope's size, however many items share the name.
    pub(crate) fn check(&mut self, what: &'static str, name: &Spanned<String>, scope: &Scope, sink: &mut Sink) -> bool {
        let hosts = self.names.entry(name.value.clone()).or_default();
        // The earliest item that has the name on one of these hosts.
        if let Some((_, first)) = scope
            .hosts
            .iter()
            .filter_map(|h| hosts.get(h))
            .min_by_key(|(order, _)| *order)
        {
            sink.push(Diagnostic::duplicate(what, &name.value, name.span).help(format!(
                "it is first defined at line {}; give each a distinct name, or disjoint scopes",
                first.line
            )));
            return false;
        }
        let order = self.items;
        self.items += 1;
        for &h in &scope.hosts {
            hosts.insert(h, (order, name.span));
        }
        true
    }
}

/// A path that a description would own (create, chown, remove): none of
/// the system's ([`is_system_path`](crate::system::is_system_path), and for
/// files [`SYSTEM_FILES`](crate::system::SYSTEM_FILES)).
pub(crate) fn check_not_system_path(key: &str, what: &str, path: &Spanned<String>, sink: &mut Sink) -> bool {
    let p = path.value.as_str();
    // A path Ansible renders is checked on each host.
    if crate::system::rendered_on_host(p) || !(crate::system::is_system_path(p) || crate::system::is_system_file(p)) {
        return true;
    }
    sink.push(
        Diagnostic::invalid_value(
            key,
            format!("`{p}` belongs to the system: {what} of the description cannot be it, since `remove` deletes what a description owns"),
            path.span,
        )
        .help("give the application a folder of its own, e.g. `/opt/myapp`"),
    );
    false
}

/// A name that is safe in file names, INI section headers, unit names and YAML.
pub(crate) fn check_name(what: &'static str, name: &Spanned<String>, sink: &mut Sink) -> bool {
    let n = &name.value;
    let reason = format::name_problem(n);
    if let Some(reason) = reason {
        sink.push(
            Diagnostic::new(
                ErrorKind::UnsafeName {
                    what,
                    name: n.escape_debug().to_string(),
                    reason,
                },
                name.span,
            )
            .help("use letters, digits, `_`, `-` and `.` only"),
        );
        return false;
    }
    true
}

/// A Unix user or group name.
pub(crate) fn check_account_name(what: &'static str, name: &Spanned<String>, sink: &mut Sink) -> bool {
    let n = &name.value;
    let body = n.strip_suffix('$').unwrap_or(n);
    let ok = !body.is_empty()
        && n.len() <= 32
        && body.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        sink.push(
            Diagnostic::new(
                ErrorKind::UnsafeName {
                    what,
                    name: n.escape_debug().to_string(),
                    reason: "it is not a valid Unix account name".into(),
                },
                name.span,
            )
            .help("start with a letter or `_`, then letters, digits, `_`, `-` or `.`, at most 32 characters"),
        );
    }
    ok
}

/// An absolute path on the target.
pub(crate) fn check_abs_path(key: &str, path: &Spanned<String>, sink: &mut Sink) -> bool {
    let p = &path.value;
    let reason = if !p.starts_with('/') {
        Some("it is not absolute")
    } else if p.split('/').any(|c| c == "..") {
        Some("it contains `..`")
    } else {
        None
    };
    report_path(key, path, reason, sink)
}

/// An absolute path on the target, or one holding Ansible expressions
/// (`{{ app_home }}/logs`), which Ansible renders on each host, where it is
/// checked again ([`crate::system::rendered_on_host`]).
pub(crate) fn check_host_path(key: &str, path: &Spanned<String>, sink: &mut Sink) -> bool {
    let p = &path.value;
    if !crate::system::rendered_on_host(p) {
        return check_abs_path(key, path, sink);
    }
    // The text around the expressions, each expression as one component.
    let mut literal = String::new();
    let mut rest = p.as_str();
    let mut closed = true;
    while let Some(open) = rest.find("{{") {
        literal.push_str(&rest[..open]);
        match rest[open..].find("}}") {
            Some(close) => {
                literal.push('x');
                rest = &rest[open + close + 2..];
            }
            None => {
                closed = false;
                rest = "";
            }
        }
    }
    literal.push_str(rest);
    if !closed {
        // Reported with every value's expressions (`expr::check_tree`).
        return false;
    }
    let reason = if !p.starts_with('/') && !p.starts_with("{{") {
        Some("it is not absolute")
    } else if literal.split('/').any(|c| c == "..") {
        Some("it contains `..`")
    } else {
        None
    };
    report_path(key, path, reason, sink)
}

fn report_path(key: &str, path: &Spanned<String>, reason: Option<&str>, sink: &mut Sink) -> bool {
    let p = &path.value;
    if let Some(reason) = reason {
        sink.push(
            Diagnostic::invalid_value(key, format!("`{p}`: {reason}"), path.span).help(
                if crate::system::rendered_on_host(p) {
                    "paths on the target hosts must be absolute; an Ansible expression gives a part of one, e.g. `{{ app_home }}/logs`"
                } else {
                    "paths on the target hosts must be absolute, e.g. /opt/myapp"
                },
            ),
        );
        return false;
    }
    true
}
