//! Ansible inventory files, read as Ansible reads them. Where Ansible is
//! installed, `ansible-inventory --list` reads them (through an
//! [`InventoryLister`] the caller gives); otherwise, and to place an error
//! Ansible reports on its line, the readers here do, for Ansible's INI and
//! YAML formats.
//!
//! An inventory need not be a description: no error here quotes its text,
//! only line numbers.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;

use crate::format;
use crate::tree::{self, Node, NodeKind, Typed};

/// Reads inventories with Ansible's own parser, for `ansible_inventories`.
pub trait InventoryLister {
    /// What `ansible-inventory -i FILE --list` prints for `file`.
    fn list(&self, file: &Path) -> Listed;
}

/// The outcome of an [`InventoryLister`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// `ansible-inventory --list`'s standard output.
    Json(Vec<u8>),
    /// Ansible could not read the inventory: how it ended (never its
    /// messages, which may quote the file), and whether it asked for a
    /// vault password.
    Failed {
        /// How it ended, for example "exit status 1".
        status: String,
        /// It stopped at a file encrypted as a whole.
        encrypted: bool,
    },
    /// Ansible is not installed: the built-in readers are used.
    Unavailable,
}

/// Why an inventory could not be read, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreadable {
    pub(crate) reason: String,
    pub(crate) help: &'static str,
}

impl From<String> for Unreadable {
    fn from(reason: String) -> Self {
        Unreadable {
            reason,
            help: "give an Ansible inventory in INI or YAML format, relative to this file",
        }
    }
}

/// An inventory (`itself`) or a variables file Ansible read with it is
/// encrypted as a whole.
fn encrypted(itself: bool) -> Unreadable {
    let what = if itself {
        "it"
    } else {
        "it, or a variables file beside it (`group_vars/`, `host_vars/`),"
    };
    Unreadable {
        reason: format!(
            "{what} is encrypted as a whole: its values would be written in clear into the generated project"
        ),
        help: "encrypt each secret value instead (`ansible-vault encrypt_string`): the project keeps them \
               encrypted, and `vault_password_file` or `ask_vault_password` gives Ansible the password when it runs",
    }
}

/// Hosts with their variables (their groups' merged in, as Ansible merges
/// them), and groups with their own hosts and child groups. Hosts and
/// groups are in name order, whichever reader read them.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct InventoryData {
    pub(crate) hosts: IndexMap<String, IndexMap<String, Value>>,
    pub(crate) groups: Vec<(String, Vec<String>, Vec<String>)>,
}

/// Reads the inventory at `path`, whose text is `text`: by Ansible if
/// `lister` can, else by the built-in readers.
pub(crate) fn read(path: &Path, text: &str, lister: Option<&dyn InventoryLister>) -> Result<InventoryData, Unreadable> {
    if is_vault(text) {
        return Err(encrypted(true));
    }
    if let Some(problem) = vars_files_problem(path) {
        return Err(problem);
    }
    if let Some(problem) = past_limits(text) {
        // Ansible's loader would expand it all (minutes, gigabytes).
        return Err(problem);
    }
    let builtin = || read_builtin(path, text);
    match lister.map_or(Listed::Unavailable, |l| l.list(path)) {
        Listed::Unavailable => builtin(),
        // Where Ansible's reading is refused, the built-in reader may say
        // on which line.
        Listed::Json(out) => from_ansible_json(&out).or_else(|e| builtin().and(Err(e))),
        Listed::Failed { encrypted: true, .. } => Err(encrypted(false)),
        Listed::Failed { status, .. } => builtin().and(Err(Unreadable {
            reason: format!("Ansible could not read it (`ansible-inventory --list` ended with {status})"),
            help: "run `ansible-inventory -i FILE --list` to see why",
        })),
    }
}

/// What makes the variables files Ansible reads beside an inventory
/// (`group_vars/`, `host_vars/`, and their folders) unfit to read, before
/// anything reads them: an entry that is not a regular file or a folder (a
/// FIFO would hang the reader, a link to a device feed it forever), a file
/// larger than [`MAX_FILE`](crate::tree::MAX_FILE), one encrypted as a
/// whole, or more entries than [`MAX_FILES`](crate::load::MAX_FILES).
fn vars_files_problem(inventory: &Path) -> Option<Unreadable> {
    let dir = inventory.parent().unwrap_or(Path::new("."));
    let mut todo: Vec<PathBuf> = ["group_vars", "host_vars"].iter().map(|d| dir.join(d)).collect();
    let mut seen = 0usize;
    while let Some(path) = todo.pop() {
        // Followed, as Ansible follows them: what matters is what is read.
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        seen += 1;
        let unfit = |why: String| {
            Some(Unreadable {
                reason: format!("`{}` {why}", path.display()),
                help: "keep only variables files (and folders of them) in `group_vars/` and `host_vars/` beside an inventory",
            })
        };
        if seen > crate::load::MAX_FILES {
            return unfit(format!(
                "is past the {} variables files hadeploy reads",
                crate::load::MAX_FILES
            ));
        }
        if meta.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(entries) => todo.extend(entries.flatten().map(|e| e.path())),
                Err(e) => return unfit(format!("cannot be listed: {e}")),
            }
        } else if !meta.is_file() {
            return unfit("is not a regular file (a FIFO, a device or a socket)".into());
        } else if meta.len() > crate::tree::MAX_FILE {
            return unfit(format!("is larger than {} MiB", crate::tree::MAX_FILE >> 20));
        } else if std::fs::File::open(&path).is_ok_and(|f| {
            let mut head = [0u8; 32];
            let n = std::io::Read::read(&mut std::io::Read::take(f, 32), &mut head).unwrap_or(0);
            is_vault(&String::from_utf8_lossy(&head[..n]))
        }) {
            return Some(encrypted(false));
        }
    }
    None
}

/// An inventory read as YAML past the loader's limits (aliases that
/// expand to millions of values, nesting, a huge value): refused before
/// anything else reads it. Any other reading error is left to the readers.
fn past_limits(text: &str) -> Option<Unreadable> {
    match tree::parse(text, crate::span::FileId(0), &mut tree::Budget::default()) {
        Err((crate::error::ErrorKind::Limit(reason), span)) => Some(Unreadable {
            reason: format!("line {}: {reason}", span.line),
            help: "an inventory is a list of hosts and variables: write its values out rather than through aliases",
        }),
        _ => None,
    }
}

fn is_vault(text: &str) -> bool {
    text.trim_start().starts_with("$ANSIBLE_VAULT;")
}

/// Ansible's choice of format: a file named `.yml`, `.yaml` or `.json` is
/// YAML; one with no extension is YAML if it reads as a YAML map, else INI.
fn read_builtin(path: &Path, text: &str) -> Result<InventoryData, Unreadable> {
    let ext = path.extension().and_then(|e| e.to_str());
    match ext {
        Some("yml" | "yaml" | "json") => {
            Ok(parse_yaml(text)?.ok_or("the file is not a YAML map of groups".to_string())?)
        }
        None => match parse_yaml(text) {
            Ok(Some(inv)) => Ok(inv),
            Ok(None) | Err(_) => Ok(parse_ini(text)?),
        },
        Some(_) => Ok(parse_ini(text)?),
    }
}

/// Everything read from one inventory, before group variables are merged.
#[derive(Default)]
struct Raw {
    /// Each host's own variables, in the order met.
    hosts: IndexMap<String, IndexMap<String, Value>>,
    /// Each group's own hosts and children.
    groups: IndexMap<String, (Vec<String>, Vec<String>)>,
    group_vars: IndexMap<String, IndexMap<String, Value>>,
}

impl Raw {
    fn add_host(&mut self, name: String, group: &str, vars: &IndexMap<String, Value>) {
        let own = self.hosts.entry(name.clone()).or_default();
        for (k, v) in vars {
            own.insert(k.clone(), v.clone());
        }
        let members = &mut self.groups.entry(group.to_string()).or_default().0;
        if !members.contains(&name) {
            members.push(name);
        }
    }

    /// Group variables applied to the hosts of the group and of its
    /// children, as Ansible merges them: groups by depth below `all` (then
    /// by name), a deeper group's value over a shallower one's, the host's
    /// own over all.
    fn resolve(self) -> InventoryData {
        let Raw {
            hosts,
            groups,
            group_vars,
        } = self;
        let depths = group_depths(&groups);
        let mut member_of: HashMap<&str, Vec<&str>> = HashMap::new();
        for g in group_vars.keys().filter(|g| *g != "all") {
            let mut seen: HashSet<&str> = HashSet::from([g.as_str()]);
            let mut todo: Vec<&str> = vec![g.as_str()];
            while let Some(name) = todo.pop() {
                let Some((members, children)) = groups.get(name) else {
                    continue;
                };
                for h in members {
                    member_of.entry(h.as_str()).or_default().push(g);
                }
                todo.extend(children.iter().map(String::as_str).filter(|c| seen.insert(c)));
            }
        }
        let mut out = InventoryData::default();
        for (h, own) in &hosts {
            let mut from: Vec<&str> = member_of.get(h.as_str()).cloned().unwrap_or_default();
            from.sort_unstable_by_key(|g| (depths.get(*g).copied().unwrap_or(1), *g));
            from.dedup();
            let mut vars = IndexMap::new();
            for g in std::iter::once("all").chain(from) {
                for (k, v) in group_vars.get(g).into_iter().flatten() {
                    vars.insert(k.clone(), v.clone());
                }
            }
            for (k, v) in own {
                vars.insert(k.clone(), v.clone());
            }
            out.hosts.insert(h.clone(), vars);
        }
        out.hosts.sort_unstable_keys();
        out.groups = groups
            .into_iter()
            .filter(|(g, _)| g != "ungrouped" && g != "all")
            .map(|(g, (h, c))| (g, h, c))
            .collect();
        out.groups.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Hosts, groups and variables as `ansible-inventory --list` prints them:
/// each host's variables already merged, vault values as
/// `{"__ansible_vault": ...}`.
fn from_ansible_json(out: &[u8]) -> Result<InventoryData, Unreadable> {
    let not_listing = || Unreadable::from("`ansible-inventory --list` printed no inventory".to_string());
    let v: Value = serde_json::from_slice(out).map_err(|_| not_listing())?;
    let top = v.as_object().ok_or_else(not_listing)?;
    let names = |v: Option<&Value>| -> Result<Vec<String>, Unreadable> {
        let items = v.map(|v| v.as_array().ok_or_else(not_listing)).transpose()?;
        items
            .into_iter()
            .flatten()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(not_listing))
            .collect()
    };
    let mut inv = InventoryData::default();
    let hostvars = top
        .get("_meta")
        .and_then(|m| m.get("hostvars"))
        .and_then(Value::as_object);
    for (group, body) in top.iter().filter(|(g, _)| *g != "_meta") {
        name(group, "group", None)?;
        let members = names(body.get("hosts"))?;
        let children = names(body.get("children"))?;
        for h in &members {
            name(h, "host", None)?;
            inv.hosts.entry(h.clone()).or_default();
        }
        for c in &children {
            name(c, "group", None)?;
        }
        if group != "all" && group != "ungrouped" {
            inv.groups.push((group.clone(), members, children));
        }
    }
    for (h, vars) in hostvars.into_iter().flatten() {
        name(h, "host", None)?;
        let vars = vars.as_object().ok_or_else(not_listing)?;
        let own = inv.hosts.entry(h.clone()).or_default();
        for (k, v) in vars {
            var_name(k, None)?;
            check_value(k, v, None)?;
            own.insert(k.clone(), v.clone());
        }
    }
    inv.hosts.sort_unstable_keys();
    inv.groups.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(inv)
}

/// An INI inventory, read as Ansible's `ini` plugin reads it.
fn parse_ini(text: &str) -> Result<InventoryData, String> {
    enum Sect {
        Hosts(String),
        Children(String),
        Vars(String),
    }
    let mut raw = Raw::default();
    let mut sect = Sect::Hosts("ungrouped".into());
    for (n, line) in text.lines().enumerate() {
        let at = Some(n + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(h) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sect = match h.split_once(':') {
                Some((g, "children")) => Sect::Children(g.to_string()),
                Some((g, "vars")) => Sect::Vars(g.to_string()),
                Some(_) => {
                    return Err(format!(
                        "line {}: a section is `[group]`, `[group:children]` or `[group:vars]`",
                        n + 1
                    ));
                }
                None => Sect::Hosts(h.to_string()),
            };
            let (Sect::Hosts(g) | Sect::Children(g) | Sect::Vars(g)) = &sect;
            name(g, "group", at)?;
            if let Sect::Hosts(g) | Sect::Children(g) = &sect {
                raw.groups.entry(g.clone()).or_default();
            }
            continue;
        }
        match &sect {
            Sect::Hosts(g) => {
                // As Ansible reads a host line: split like a POSIX shell,
                // quotes removed, `#` starting a comment.
                let words = shlex::split(line).ok_or(format!("line {}: a quote is not closed", n + 1))?;
                let mut words = words.into_iter();
                let (names, port) = host_pattern(&words.next().unwrap_or_default(), at)?;
                let mut vars = IndexMap::new();
                if let Some(p) = port {
                    vars.insert("ansible_port".to_string(), Value::from(p));
                }
                for w in words {
                    let (k, v) = w
                        .split_once('=')
                        .ok_or(format!("line {}: a host variable is not written `key=value`", n + 1))?;
                    var_name(k, at)?;
                    let v = python_value(v);
                    check_value(k, &v, at)?;
                    vars.insert(k.to_string(), v);
                }
                for h in names {
                    raw.add_host(h, g, &vars);
                }
            }
            Sect::Children(g) => {
                name(line, "group", at)?;
                raw.groups.entry(g.clone()).or_default().1.push(line.to_string());
            }
            Sect::Vars(g) => {
                // As Ansible reads a `[group:vars]` line: split at the first
                // `=`, the value read as a Python literal where it is one.
                let (k, v) = line
                    .split_once('=')
                    .ok_or(format!("line {}: a group variable is not written `key=value`", n + 1))?;
                let k = k.trim();
                var_name(k, at)?;
                let v = python_value(v.trim());
                check_value(k, &v, at)?;
                raw.group_vars.entry(g.clone()).or_default().insert(k.to_string(), v);
            }
        }
    }
    Ok(raw.resolve())
}

/// A YAML inventory, read as Ansible's `yaml` plugin reads it: a map of
/// groups, each with optional `hosts` (a map of host patterns to their
/// variables), `vars` and `children` (a map of groups, read alike). `None`
/// when the text is not a YAML map at all (Ansible then tries INI).
fn parse_yaml(text: &str) -> Result<Option<InventoryData>, String> {
    // The file's positions are only used for line numbers here.
    let file = crate::span::FileId(0);
    let docs = match tree::parse(text, file, &mut tree::Budget::default()) {
        Ok(docs) => docs,
        Err((_, span)) => return Err(format!("line {}, column {}: not valid YAML", span.line, span.col)),
    };
    let root = match docs.as_slice() {
        [] => return Ok(Some(InventoryData::default())),
        [one] if one.is_null() => return Ok(Some(InventoryData::default())),
        [one] => match one.as_map() {
            Some(root) => root,
            None => return Ok(None),
        },
        [_, second, ..] => return Err(format!("line {}: an inventory is one YAML document", second.span.line)),
    };
    let mut raw = Raw::default();
    for (k, v) in root {
        yaml_group(&mut raw, k, v)?;
    }
    Ok(Some(raw.resolve()))
}

fn yaml_group(raw: &mut Raw, key: &Node, body: &Node) -> Result<(), String> {
    let at = Some(key.span.line as usize);
    let group = key_text(key)?;
    name(&group, "group", at)?;
    raw.groups.entry(group.clone()).or_default();
    if body.is_null() {
        return Ok(());
    }
    let entries = body.as_map().ok_or(format!(
        "line {}: a group is a map of `hosts`, `vars` and `children`",
        body.span.line
    ))?;
    // Other keys are skipped, as Ansible skips them.
    for (k, v) in entries {
        match k.as_scalar().map(|s| s.text.as_str()) {
            Some("hosts") if !v.is_null() => {
                for (pattern, vars) in yaml_map(v, "`hosts` is a map of host names to their variables")? {
                    let at = Some(pattern.span.line as usize);
                    let (names, port) = host_pattern(&key_text(pattern)?, at)?;
                    let mut own = yaml_vars(vars)?;
                    if let Some(p) = port {
                        own.entry("ansible_port".to_string()).or_insert(Value::from(p));
                    }
                    for h in names {
                        raw.add_host(h, &group, &own);
                    }
                }
            }
            Some("vars") => {
                let vars = yaml_vars(v)?;
                raw.group_vars.entry(group.clone()).or_default().extend(vars);
            }
            Some("children") if !v.is_null() => {
                for (child, body) in yaml_map(v, "`children` is a map of groups")? {
                    yaml_group(raw, child, body)?;
                    let child = key_text(child)?;
                    let children = &mut raw.groups.entry(group.clone()).or_default().1;
                    if !children.contains(&child) {
                        children.push(child);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn yaml_map<'a>(node: &'a Node, what: &str) -> Result<&'a [(Node, Node)], String> {
    node.as_map().ok_or(format!("line {}: {what}", node.span.line))
}

fn yaml_vars(node: &Node) -> Result<IndexMap<String, Value>, String> {
    let mut vars = IndexMap::new();
    if node.is_null() {
        return Ok(vars);
    }
    for (k, v) in yaml_map(node, "variables are a map")? {
        let at = Some(k.span.line as usize);
        let key = key_text(k)?;
        var_name(&key, at)?;
        let v = json_of(v);
        check_value(&key, &v, at)?;
        vars.insert(key, v);
    }
    Ok(vars)
}

fn key_text(node: &Node) -> Result<String, String> {
    match node.as_scalar() {
        Some(s) => Ok(s.text.clone()),
        None => Err(format!("line {}: a key is a plain name", node.span.line)),
    }
}

/// A YAML value as Ansible's loader gives it: YAML 1.1 scalars, and vault
/// values in the form `ansible-inventory --list` prints them.
fn json_of(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Scalar(s) if s.vault => serde_json::json!({ "__ansible_vault": s.text }),
        NodeKind::Scalar(s) => match s.typed() {
            Typed::Null => Value::Null,
            Typed::Bool(b) => Value::Bool(b),
            Typed::Int(i) => Value::from(i),
            Typed::Float => s.text.parse::<f64>().map_or(Value::String(s.text.clone()), Value::from),
            Typed::Str(t) => Value::String(t.to_string()),
        },
        NodeKind::Seq(items) => Value::Array(items.iter().map(json_of).collect()),
        NodeKind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.as_scalar().map(|s| s.text.clone()).unwrap_or_default(), json_of(v)))
                .collect(),
        ),
    }
}

/// Each group's depth below `all`, as Ansible counts it: 1 for a top-level
/// group, one more than its deepest parent for a child (cycles cut).
fn group_depths(groups: &IndexMap<String, (Vec<String>, Vec<String>)>) -> HashMap<String, usize> {
    let mut depth: HashMap<String, usize> = groups.keys().map(|g| (g.clone(), 1)).collect();
    // Relaxed at most once per group: a longer chain is a cycle.
    for _ in 0..groups.len() {
        let mut changed = false;
        for (g, (_, children)) in groups {
            let d = depth[g] + 1;
            for c in children {
                let e = depth.entry(c.clone()).or_insert(1);
                if *e < d {
                    *e = d;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    depth
}

/// `line N: ` where a line is known.
fn on(line: Option<usize>) -> String {
    line.map(|n| format!("line {n}: ")).unwrap_or_default()
}

/// The host names of a host pattern and its port, as Ansible reads
/// `name[01:03]:2222`.
fn host_pattern(pattern: &str, line: Option<usize>) -> Result<(Vec<String>, Option<u16>), String> {
    let (pattern, port) = match pattern.rsplit_once(':') {
        Some((h, p))
            if !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && h.matches('[').count() == h.matches(']').count() =>
        {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or(format!("{}`ansible_port` must be a port number, 1 to 65535", on(line)))?;
            (h, Some(port))
        }
        _ => (pattern, None),
    };
    let names = expand_range(pattern, line)?;
    for n in &names {
        name(n, "host", line)?;
    }
    Ok((names, port))
}

/// Most hosts one range pattern expands to.
const MAX_RANGE: usize = 10_000;

/// The host names of a host pattern, its `[a:b]` / `[a:b:step]` ranges
/// expanded as Ansible expands them (numbers keep the first bound's leading
/// zeros; letters `[a:f]`).
fn expand_range(pattern: &str, line: Option<usize>) -> Result<Vec<String>, String> {
    let bad = || {
        format!(
            "{}a host range is written `name[01:10]`, `name[a:f]` or `name[1:10:2]`",
            on(line)
        )
    };
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let close = pattern[open..].find(']').map(|c| open + c).ok_or_else(bad)?;
    let (head, body, tail) = (&pattern[..open], &pattern[open + 1..close], &pattern[close + 1..]);
    let parts: Vec<&str> = body.split(':').collect();
    let (lo, hi, step) = match parts.as_slice() {
        [lo, hi] => (*lo, *hi, 1usize),
        [lo, hi, step] => (*lo, *hi, step.parse::<usize>().ok().filter(|s| *s > 0).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    let items: Vec<String> = if let (Ok(a), Ok(b)) = (lo.parse::<usize>(), hi.parse::<usize>()) {
        let width = if lo.starts_with('0') && lo.len() > 1 {
            lo.len()
        } else {
            0
        };
        if a > b || (b - a) / step >= MAX_RANGE {
            return Err(bad());
        }
        (a..=b).step_by(step).map(|i| format!("{i:0width$}")).collect()
    } else if let ([a], [b]) = (lo.as_bytes(), hi.as_bytes())
        && a.is_ascii_lowercase() == b.is_ascii_lowercase()
        && a.is_ascii_alphabetic()
        && b.is_ascii_alphabetic()
        && a <= b
    {
        (*a..=*b).step_by(step).map(|c| char::from(c).to_string()).collect()
    } else {
        return Err(bad());
    };
    let mut out = Vec::new();
    for item in items {
        for rest in expand_range(tail, line)? {
            if out.len() >= MAX_RANGE {
                return Err(format!("{}a host range gives more than {MAX_RANGE} hosts", on(line)));
            }
            out.push(format!("{head}{item}{rest}"));
        }
    }
    Ok(out)
}

/// A host or group name of an inventory: written as a YAML key, a file
/// name and a scope, it follows the rule of names in the description.
fn name(name: &str, what: &str, line: Option<usize>) -> Result<(), String> {
    if format::is_name(name) {
        Ok(())
    } else {
        // The name itself is not quoted: the file may not be an inventory at all.
        Err(format!(
            "{}a {what} name holds characters other than letters, digits, `_`, `-` and `.`",
            on(line),
        ))
    }
}

/// A value as Ansible's INI inventory reads it: a Python literal (number,
/// `True`/`False`/`None`, quoted string, list, dict) as its value, anything
/// else as the text written.
fn python_value(v: &str) -> Value {
    let mut p = PyLiteral { s: v.as_bytes(), i: 0 };
    match p.value() {
        Some(value) if p.i == p.s.len() => value,
        _ => Value::String(v.to_string()),
    }
}

/// A reader of the Python literals `ast.literal_eval` reads, as far as
/// inventories write them; `None` where it is not one.
struct PyLiteral<'a> {
    s: &'a [u8],
    i: usize,
}

impl PyLiteral<'_> {
    /// Most levels of nested lists and dicts.
    const MAX_DEPTH: usize = 32;

    fn value(&mut self) -> Option<Value> {
        self.nested(0)
    }

    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        let ok = self.s.get(self.i) == Some(&b);
        if ok {
            self.i += 1;
        }
        ok
    }

    fn nested(&mut self, depth: usize) -> Option<Value> {
        if depth > Self::MAX_DEPTH {
            return None;
        }
        self.ws();
        match *self.s.get(self.i)? {
            q @ (b'\'' | b'"') => self.string(q).map(Value::String),
            open @ (b'[' | b'(') => {
                self.i += 1;
                let close = if open == b'[' { b']' } else { b')' };
                let mut items = Vec::new();
                while !self.eat(close) {
                    items.push(self.nested(depth + 1)?);
                    if !self.eat(b',') {
                        return self.eat(close).then_some(Value::Array(items));
                    }
                }
                Some(Value::Array(items))
            }
            b'{' => {
                self.i += 1;
                let mut map = serde_json::Map::new();
                while !self.eat(b'}') {
                    let Value::String(k) = self.nested(depth + 1)? else {
                        return None;
                    };
                    if !self.eat(b':') {
                        return None;
                    }
                    map.insert(k, self.nested(depth + 1)?);
                    if !self.eat(b',') {
                        return self.eat(b'}').then_some(Value::Object(map));
                    }
                }
                Some(Value::Object(map))
            }
            _ => self.atom(),
        }
    }

    /// A quoted string with Python's simple escapes; `None` for the others.
    fn string(&mut self, q: u8) -> Option<String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let b = *self.s.get(self.i)?;
            self.i += 1;
            match b {
                _ if b == q => break,
                b'\\' => {
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    out.push(match e {
                        b'\\' | b'\'' | b'"' => e,
                        b'n' => b'\n',
                        b't' => b'\t',
                        _ => return None,
                    });
                }
                b'\n' => return None,
                _ => out.push(b),
            }
        }
        String::from_utf8(out).ok()
    }

    /// A number, `True`, `False` or `None`.
    fn atom(&mut self) -> Option<Value> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'))
        {
            // A sign only leads a number or its exponent.
            let b = self.s[self.i];
            if matches!(b, b'+' | b'-') && self.i > start && !matches!(self.s[self.i - 1], b'e' | b'E') {
                break;
            }
            self.i += 1;
        }
        let word = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        match word {
            "True" => return Some(Value::Bool(true)),
            "False" => return Some(Value::Bool(false)),
            "None" => return Some(Value::Null),
            _ => {}
        }
        let (neg, digits) = match word.as_bytes().first()? {
            b'-' => (true, &word[1..]),
            b'+' => (false, &word[1..]),
            _ => (false, word),
        };
        if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
            return None;
        }
        let clean = digits.replace('_', "");
        // `0x1F`, `0o17`, `0b101`, any case.
        let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
            .into_iter()
            .find(|(p, _)| clean.get(..2).is_some_and(|h| h.eq_ignore_ascii_case(p)));
        let int = if let Some((_, r)) = radix {
            i64::from_str_radix(&clean[2..], r).ok()
        } else if clean.bytes().all(|b| b.is_ascii_digit()) && !clean.is_empty() {
            // Python refuses leading zeros in a decimal integer.
            (clean == "0" || !clean.starts_with('0'))
                .then(|| clean.parse().ok())
                .flatten()
        } else {
            None
        };
        if let Some(i) = int {
            return Some(Value::from(if neg { -i } else { i }));
        }
        let float_chars = clean
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
        // A float has a point or an exponent (`007` is no number at all).
        let float_form = clean.contains(['.', 'e', 'E']) && !clean.starts_with(['e', 'E']);
        if float_chars && float_form && clean.bytes().any(|b| b.is_ascii_digit()) {
            let f: f64 = clean.parse().ok().filter(|f: &f64| f.is_finite())?;
            return Some(Value::from(if neg { -f } else { f }));
        }
        None
    }
}

/// A value checked as the description checks the same attribute.
fn check_value(key: &str, value: &Value, line: Option<usize>) -> Result<(), String> {
    if matches!(key, "ansible_port" | "ansible_ssh_port") {
        let port = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        };
        if !port.is_some_and(|p| (1..=65535).contains(&p)) {
            return Err(format!("{}`{key}` must be a port number, 1 to 65535", on(line)));
        }
    }
    Ok(())
}

/// A variable name, as Ansible requires it.
fn var_name(key: &str, line: Option<usize>) -> Result<(), String> {
    if format::is_var_name(key) {
        Ok(())
    } else {
        Err(format!("{}a variable name is not letters, digits and `_`", on(line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ini(text: &str) -> InventoryData {
        parse_ini(text).unwrap()
    }

    #[test]
    fn reads_an_ini_inventory_with_children_and_vars() {
        let inv = ini(
            "en1 ansible_host=10.0.0.1\n[edges]\nen2 ansible_user=tsup\n[cluster:children]\nedges\n[edges:vars]\nansible_user=root\nfoo='bar'\n",
        );
        assert_eq!(inv.hosts["en1"]["ansible_host"], "10.0.0.1");
        assert_eq!(
            inv.hosts["en2"]["ansible_user"], "tsup",
            "a host's own value beats its group's"
        );
        assert_eq!(inv.hosts["en2"]["foo"], "bar");
        assert_eq!(
            inv.groups,
            vec![
                ("cluster".to_string(), vec![], vec!["edges".to_string()]),
                ("edges".to_string(), vec!["en2".to_string()], vec![]),
            ]
        );
    }

    #[test]
    fn splits_host_lines_as_ansible_does() {
        let inv = ini(
            "h1 ansible_ssh_common_args='-o StrictHostKeyChecking=no' msg=\"a b\" # a comment\n\
             [g:vars]\nquoted = 'x y'\nplain = a 'b' c\n[g]\nh1\n",
        );
        let h1 = &inv.hosts["h1"];
        assert_eq!(h1["ansible_ssh_common_args"], "-o StrictHostKeyChecking=no");
        assert_eq!(h1["msg"], "a b");
        assert_eq!(h1["quoted"], "x y");
        assert_eq!(h1["plain"], "a 'b' c");
        assert_eq!(h1.len(), 4);
    }

    #[test]
    fn types_values_as_python_literals_as_ansible_does() {
        let inv = ini(
            "h1 a=3 b=0x1F c=True d=None e=[1,2] f=1.5 g=007 h=-4 i=1_000 k=1e3 l=+5 m=\"['x', 'y']\" n=yes o=1.2.3\n",
        );
        let h1 = &inv.hosts["h1"];
        let expect = json!({"a": 3, "b": 31, "c": true, "d": null, "e": [1, 2], "f": 1.5, "g": "007",
            "h": -4, "i": 1000, "k": 1000.0, "l": 5, "m": ["x", "y"], "n": "yes", "o": "1.2.3"});
        assert_eq!(serde_json::to_value(h1).unwrap(), expect);
    }

    #[test]
    fn checks_ports_and_quotes_no_content() {
        for (text, why) in [
            (
                "h1 ansible_port=70000\n",
                "line 1: `ansible_port` must be a port number",
            ),
            (
                "[g:vars]\nansible_port=ssh\n",
                "line 2: `ansible_port` must be a port number",
            ),
            ("h1 a='open\n", "line 1: a quote is not closed"),
            ("root:$y$j9T$c2VjcmV0:19000:0:99999:7:::\n", "line 1: a host name"),
            ("h1 secret-token\n", "line 1: a host variable is not written"),
        ] {
            let e = parse_ini(text).unwrap_err();
            assert!(e.starts_with(why), "{e}");
            assert!(!e.contains("c2VjcmV0") && !e.contains("secret-token"), "{e}");
        }
    }

    #[test]
    fn expands_host_ranges_and_ports_as_ansible_does() {
        let inv = ini("[web]\nweb[01:03] a=1\ndb-[a:b]-[1:3:2]\nbox:2222\n");
        let names: Vec<&String> = inv.hosts.keys().collect();
        assert_eq!(
            names,
            ["box", "db-a-1", "db-a-3", "db-b-1", "db-b-3", "web01", "web02", "web03"]
        );
        assert_eq!(inv.hosts["web02"]["a"], 1);
        assert_eq!(inv.hosts["box"]["ansible_port"], 2222);
        for bad in ["w[3:1]", "w[1:2", "w[a:3]", "w[0:100000]", "h:70000"] {
            assert!(parse_ini(&format!("{bad}\n")).is_err(), "{bad}");
        }
    }

    #[test]
    fn parents_group_vars_reach_their_childrens_hosts() {
        let inv = ini("[a]\nh1\n[b]\nh2 x=own\n[p:children]\na\nb\n[gp:children]\np\n\
             [gp:vars]\nx=gp\ny=gp\nz=gp\n[p:vars]\nx=p\ny=p\n[a:vars]\nx=a\n[all:vars]\nz=all\nw=all\n");
        let get = |h: &str, k: &str| inv.hosts[h][k].clone();
        assert_eq!(
            (get("h1", "x"), get("h1", "y"), get("h1", "z"), get("h1", "w")),
            (json!("a"), json!("p"), json!("gp"), json!("all"))
        );
        assert_eq!((get("h2", "x"), get("h2", "y")), (json!("own"), json!("p")));
    }

    #[test]
    fn reads_a_yaml_inventory_as_the_same_ini_one() {
        let yaml = "all:\n  vars: { z: all }\n  hosts:\n    en1: { ansible_host: 10.0.0.1 }\n  children:\n    \
                    edges:\n      hosts:\n        en2:\n          ansible_user: tsup\n        web[01:02]:2222:\n      \
                    vars:\n        ansible_user: root\n        n: 3\n    cluster:\n      children:\n        edges:\n";
        let ini_text = "en1 ansible_host=10.0.0.1\n[edges]\nen2 ansible_user=tsup\nweb[01:02]:2222\n\
                        [edges:vars]\nansible_user=root\nn=3\n[cluster:children]\nedges\n[all:vars]\nz=all\n";
        let from_yaml = parse_yaml(yaml).unwrap().unwrap();
        assert_eq!(from_yaml, ini(ini_text));
        assert_eq!(from_yaml.hosts["web02"]["ansible_port"], 2222);
    }

    #[test]
    fn keeps_vault_values_encrypted() {
        let yaml = "all:\n  hosts:\n    h1:\n      ansible_password: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        3132\n";
        let inv = parse_yaml(yaml).unwrap().unwrap();
        assert_eq!(
            inv.hosts["h1"]["ansible_password"],
            json!({"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n3132\n"})
        );
        let whole = "$ANSIBLE_VAULT;1.1;AES256\n6330\n";
        assert_eq!(read(Path::new("hosts"), whole, None), Err(encrypted(true)));
    }

    #[test]
    fn chooses_the_format_as_ansible_does() {
        let ini_text = "[g]\nh1\n";
        assert_eq!(read_builtin(Path::new("hosts"), ini_text).unwrap().hosts.len(), 1);
        assert_eq!(read_builtin(Path::new("hosts.ini"), ini_text).unwrap().hosts.len(), 1);
        assert!(read_builtin(Path::new("hosts.yml"), ini_text).is_err());
        let yaml = "web:\n  hosts:\n    h1:\n";
        assert_eq!(read_builtin(Path::new("hosts"), yaml).unwrap().hosts.len(), 1);
    }

    struct Fake(Listed);
    impl InventoryLister for Fake {
        fn list(&self, _: &Path) -> Listed {
            self.0.clone()
        }
    }

    #[test]
    fn prefers_ansible_and_places_its_refusals_on_a_line() {
        let listing = br#"{"_meta": {"hostvars": {"b": {"x": [1]}}}, "all": {"children": ["ungrouped", "g"]},
            "g": {"hosts": ["b", "a"]}}"#;
        let inv = read(
            Path::new("hosts"),
            "unused\n",
            Some(&Fake(Listed::Json(listing.to_vec()))),
        )
        .unwrap();
        assert_eq!(inv.hosts.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(inv.hosts["b"]["x"], json!([1]));
        assert_eq!(
            inv.groups,
            [("g".to_string(), vec!["b".to_string(), "a".to_string()], vec![])]
        );

        let failed = Fake(Listed::Failed {
            status: "exit status 1".into(),
            encrypted: false,
        });
        let e = read(Path::new("hosts"), "[g]\nh1 x\n", Some(&failed)).unwrap_err();
        assert!(e.reason.starts_with("line 2:"), "{e:?}");
        let e = read(Path::new("hosts"), "[g]\nh1\n", Some(&failed)).unwrap_err();
        assert!(e.reason.contains("exit status 1"), "{e:?}");

        let odd = br#"{"_meta": {"hostvars": {}}, "g": {"hosts": ["root:$y$secret"]}}"#;
        let e = read(
            Path::new("hosts"),
            "[g]\nroot:$y$secret\n",
            Some(&Fake(Listed::Json(odd.to_vec()))),
        )
        .unwrap_err();
        assert!(
            e.reason.starts_with("line 2: a host name") && !e.reason.contains("secret"),
            "{e:?}"
        );
    }
}
