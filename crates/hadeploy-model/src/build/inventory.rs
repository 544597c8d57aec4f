//! Hosts, host groups, overrides and Ansible inventories, resolved into the
//! host and group tables every `scope` is checked against.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::error::{Diagnostic, ErrorKind, Sink, did_you_mean};
use crate::format::{self, HOST_ATTRS, Ty};
use crate::model::{Host, HostGroup, Scope};
use crate::read::{Fields, Spanned, int, local_path, section_items, string};
use crate::span::{SourceMap, Span};
use crate::tree::{Node, Typed};

/// Ansible's names for the host attributes of [`HOST_ATTRS`], for reading inventories.
const ANSIBLE_NAMES: &[(&str, &str)] = &[
    ("ansible_host", "ssh_host"),
    ("ansible_ssh_host", "ssh_host"),
    ("ansible_user", "ssh_user"),
    ("ansible_ssh_user", "ssh_user"),
    ("ansible_ssh_private_key_file", "ssh_private_key_file"),
    ("ansible_private_key_file", "ssh_private_key_file"),
    ("ansible_password", "ssh_password"),
    ("ansible_ssh_pass", "ssh_password"),
    ("ansible_port", "ssh_port"),
    ("ansible_ssh_port", "ssh_port"),
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

#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Path(PathBuf),
    Bool(bool),
    Port(u16),
}

/// A host group as written, before its children are flattened.
struct RawGroup {
    hosts: Vec<Spanned<String>>,
    children: Vec<Spanned<String>>,
    force_setup: bool,
    span: Span,
}

/// One attribute set by one `host_overrides` item.
struct Change {
    priority: i64,
    order: usize,
    targets: Vec<String>,
    key: &'static str,
    /// `None` removes the attribute.
    value: Option<Value>,
}

/// Hosts and groups, with the positions of their definitions.
#[derive(Debug, Default)]
pub(crate) struct Inventory {
    pub(crate) hosts: IndexMap<String, Host>,
    pub(crate) groups: IndexMap<String, HostGroup>,
    /// Set when there is no host at all: reported once, not at every scope.
    no_hosts: bool,
}

impl Inventory {
    /// Resolves a scope expression (`en1`, `edges`, `en1:en2`, `all`).
    pub(crate) fn scope(&self, expr: &Spanned<String>, sink: &mut Sink) -> Option<Scope> {
        if self.no_hosts {
            return Some(Scope {
                expr: expr.value.clone(),
                hosts: Vec::new(),
            });
        }
        let mut wanted = vec![false; self.hosts.len()];
        let mut ok = true;
        for part in expr.value.split(':').map(str::trim) {
            if part == "all" || part == "*" {
                wanted.iter_mut().for_each(|w| *w = true);
            } else if let Some(i) = self.hosts.get_index_of(part) {
                wanted[i] = true;
            } else if let Some(g) = self.groups.get(part) {
                for h in &g.hosts {
                    wanted[self.hosts.get_index_of(h.as_str()).expect("group hosts are known")] = true;
                }
            } else {
                ok = false;
                let names = self.hosts.keys().chain(self.groups.keys()).map(String::as_str);
                let help = did_you_mean(part, names).unwrap_or_else(|| {
                    format!(
                        "a scope names hosts or host groups, joined with `:`; known: {}",
                        self.known()
                    )
                });
                sink.push(Diagnostic::new(ErrorKind::UnknownHost(part.to_string()), expr.span).help(help));
            }
        }
        if !ok {
            return None;
        }
        let hosts: Vec<String> = self
            .hosts
            .keys()
            .zip(&wanted)
            .filter(|(_, w)| **w)
            .map(|(h, _)| h.clone())
            .collect();
        if hosts.is_empty() {
            sink.push(
                Diagnostic::new(
                    ErrorKind::InvalidValue {
                        key: "scope".into(),
                        reason: format!("`{}` contains no host", expr.value),
                    },
                    expr.span,
                )
                .help("add hosts to the group, or scope the item to another group"),
            );
            return None;
        }
        Some(Scope {
            expr: expr.value.clone(),
            hosts,
        })
    }

    fn known(&self) -> String {
        let mut names: Vec<&str> = self
            .hosts
            .keys()
            .chain(self.groups.keys())
            .map(String::as_str)
            .collect();
        names.truncate(12);
        names.join(", ")
    }
}

/// Reads `hosts`, `ansible_inventories`, `host_groups` and `host_overrides`.
pub(crate) fn build(root: &[(Node, Node)], sources: &SourceMap, sink: &mut Sink) -> Inventory {
    let mut inv = Inventory::default();
    let mut host_spans: IndexMap<String, Span> = IndexMap::new();
    for item in section_items(root, "hosts", sink) {
        let Some(f) = Fields::new(item, &format::HOST, sink) else {
            continue;
        };
        let Some(name) = f.req_str("name", sink) else { continue };
        check_host_name(&name, sink);
        let mut host = Host {
            name: name.value.clone(),
            privileged: true,
            ..Host::default()
        };
        for a in HOST_ATTRS {
            if let Some(node) = f.get(a.name)
                && let Some(v) = attr(node, a.name, a.ty, sources, sink)
            {
                set(&mut host, a.name, Some(v));
            }
        }
        add_host(&mut inv, &mut host_spans, host, name.span, sink);
    }

    let mut inv_groups: Vec<(String, Vec<String>, Vec<String>, Span)> = Vec::new();
    for item in section_items(root, "ansible_inventories", sink) {
        let Some(f) = Fields::new(item, &format::ANSIBLE_INVENTORY, sink) else {
            continue;
        };
        let Some(file) = f.req_str("file", sink) else { continue };
        let path = local_path(&file.value, file.span, sources);
        match read_ini_inventory(&path) {
            Ok(parsed) => {
                for (name, vars) in parsed.hosts {
                    let mut host = Host {
                        name: name.clone(),
                        privileged: true,
                        ..Host::default()
                    };
                    for (k, v) in vars {
                        apply_ansible_var(&mut host, &k, v, &path);
                    }
                    add_host(&mut inv, &mut host_spans, host, file.span, sink);
                }
                for (name, hosts, children) in parsed.groups {
                    inv_groups.push((name, hosts, children, file.span));
                }
            }
            Err(reason) => sink.push(
                Diagnostic::new(
                    ErrorKind::Read {
                        path: path.display().to_string(),
                        reason,
                    },
                    file.span,
                )
                .help("give an Ansible inventory in INI format, relative to this file"),
            ),
        }
    }
    inv.no_hosts = inv.hosts.is_empty();

    // Groups: read all, then flatten, so that a group may name one defined later.
    let mut raw: IndexMap<String, RawGroup> = IndexMap::new();
    for (name, hosts, children, span) in inv_groups {
        let wrap = |v: Vec<String>| v.into_iter().map(|value| Spanned { value, span }).collect();
        raw.insert(
            name,
            RawGroup {
                hosts: wrap(hosts),
                children: wrap(children),
                force_setup: false,
                span,
            },
        );
    }
    for item in section_items(root, "host_groups", sink) {
        let Some(f) = Fields::new(item, &format::HOST_GROUP, sink) else {
            continue;
        };
        let Some(name) = f.req_str("name", sink) else { continue };
        check_host_name(&name, sink);
        if name.value == "all" {
            sink.push(
                Diagnostic::new(
                    ErrorKind::Duplicate {
                        what: "host group",
                        name: "all".into(),
                    },
                    name.span,
                )
                .help("the group `all` always exists and holds every host: choose another name"),
            );
            continue;
        }
        if inv.hosts.contains_key(&name.value) {
            sink.push(
                Diagnostic::new(
                    ErrorKind::Duplicate {
                        what: "host or host group name",
                        name: name.value.clone(),
                    },
                    name.span,
                )
                .help("a scope could not tell the host from the group: rename one of them"),
            );
            continue;
        }
        let hosts = f.str_list("hosts", sink);
        let groups = f.str_list("groups", sink);
        let force = f.bool_or("force_setup", false, sink);
        if let Some(RawGroup { span: first, .. }) = raw.get(&name.value) {
            sink.push(
                Diagnostic::new(
                    ErrorKind::Duplicate {
                        what: "host group",
                        name: name.value.clone(),
                    },
                    name.span,
                )
                .help(format!("it is first defined at line {}", first.line)),
            );
            continue;
        }
        raw.insert(
            name.value,
            RawGroup {
                hosts,
                children: groups,
                force_setup: force,
                span: name.span,
            },
        );
    }
    for (
        name,
        RawGroup {
            hosts,
            children,
            force_setup: force,
            ..
        },
    ) in &raw
    {
        for h in hosts {
            if !inv.hosts.contains_key(&h.value) {
                let help = did_you_mean(&h.value, inv.hosts.keys().map(String::as_str));
                sink.push(Diagnostic::new(ErrorKind::UnknownHost(h.value.clone()), h.span).maybe_help(help));
            }
        }
        let mut all = vec![false; inv.hosts.len()];
        let mut path = vec![name.clone()];
        flatten(name, &raw, &inv.hosts, &mut all, &mut path, sink);
        let group = HostGroup {
            name: name.clone(),
            direct_hosts: hosts.iter().map(|h| h.value.clone()).collect(),
            children: children.iter().map(|c| c.value.clone()).collect(),
            hosts: inv
                .hosts
                .keys()
                .zip(&all)
                .filter(|(_, w)| **w)
                .map(|(h, _)| h.clone())
                .collect(),
            force_setup: *force,
        };
        inv.groups.insert(name.clone(), group);
    }
    inv.groups.insert(
        "all".into(),
        HostGroup {
            name: "all".into(),
            direct_hosts: Vec::new(),
            children: Vec::new(),
            hosts: inv.hosts.keys().cloned().collect(),
            force_setup: false,
        },
    );

    overrides(root, &mut inv, sources, sink);
    inv
}

fn add_host(inv: &mut Inventory, spans: &mut IndexMap<String, Span>, host: Host, span: Span, sink: &mut Sink) {
    if let Some(first) = spans.get(&host.name) {
        let at = sources_line(*first);
        sink.push(
            Diagnostic::new(
                ErrorKind::Duplicate {
                    what: "host",
                    name: host.name.clone(),
                },
                span,
            )
            .help(format!(
                "it is first defined {at}; use `host_overrides` to change a host's attributes"
            )),
        );
        return;
    }
    spans.insert(host.name.clone(), span);
    inv.hosts.insert(host.name.clone(), host);
}

fn sources_line(span: Span) -> String {
    format!("at line {}", span.line)
}

/// Marks the hosts of `name` and of its children, reporting unknown children and cycles.
fn flatten(
    name: &str,
    raw: &IndexMap<String, RawGroup>,
    hosts: &IndexMap<String, Host>,
    out: &mut [bool],
    path: &mut Vec<String>,
    sink: &mut Sink,
) {
    let Some(RawGroup {
        hosts: direct,
        children,
        ..
    }) = raw.get(name)
    else {
        return;
    };
    for h in direct {
        if let Some(i) = hosts.get_index_of(&h.value) {
            out[i] = true;
        }
    }
    for child in children {
        if child.value == "all" {
            out.iter_mut().for_each(|w| *w = true);
        } else if !raw.contains_key(&child.value) {
            // Only report from the group that names it, not from every parent.
            if path.len() == 1 {
                let help = did_you_mean(&child.value, raw.keys().map(String::as_str));
                sink.push(Diagnostic::new(ErrorKind::UnknownHost(child.value.clone()), child.span).maybe_help(help));
            }
        } else if path.contains(&child.value) {
            // Report each cycle once, from the group of the cycle that sorts first.
            let start = path.iter().position(|p| *p == child.value).expect("checked above");
            if path[0] == child.value && path[start..].iter().all(|p| *p >= child.value) {
                let cycle = path.join(" -> ");
                sink.push(
                    Diagnostic::new(
                        ErrorKind::Conflict(format!(
                            "host group `{}` contains itself ({cycle} -> {})",
                            path[0], child.value
                        )),
                        child.span,
                    )
                    .help("remove one of the `groups:` entries of the cycle"),
                );
            }
        } else {
            path.push(child.value.clone());
            flatten(&child.value, raw, hosts, out, path, sink);
            path.pop();
        }
    }
}

fn overrides(root: &[(Node, Node)], inv: &mut Inventory, sources: &SourceMap, sink: &mut Sink) {
    let mut changes: Vec<Change> = Vec::new();
    for item in section_items(root, "host_overrides", sink) {
        let Some(f) = Fields::new(item, &format::HOST_OVERRIDE, sink) else {
            continue;
        };
        let Some(name) = f.req_str("name", sink) else { continue };
        let priority = f.opt_int("priority", i64::MIN, i64::MAX, sink).unwrap_or(100);
        let targets: Vec<String> = if name.value == "all" || name.value == "*" {
            inv.hosts.keys().cloned().collect()
        } else if inv.hosts.contains_key(&name.value) {
            vec![name.value.clone()]
        } else if let Some(g) = inv.groups.get(&name.value) {
            g.hosts.clone()
        } else {
            if !inv.no_hosts {
                let help = did_you_mean(
                    &name.value,
                    inv.hosts.keys().chain(inv.groups.keys()).map(String::as_str),
                )
                .unwrap_or_else(|| "name a host, a host group, or `all`".into());
                sink.push(Diagnostic::new(ErrorKind::UnknownHost(name.value.clone()), name.span).help(help));
            }
            continue;
        };
        for &format::Key { name: key, ty, .. } in format::HOST_OVERRIDE.removable {
            let Some((_, node)) = item.as_map().and_then(|m| {
                m.iter()
                    .rev()
                    .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key))
            }) else {
                continue;
            };
            let unset = node.as_scalar().is_some_and(|s| s.text.is_empty());
            let value = if unset {
                None
            } else {
                attr(node, key, ty, sources, sink)
            };
            if unset || value.is_some() {
                changes.push(Change {
                    priority,
                    order: changes.len(),
                    targets: targets.clone(),
                    key,
                    value,
                });
            }
        }
    }
    // Higher priority applied last, so it wins; equal priorities in load order.
    changes.sort_by_key(|c| (c.priority, c.order));
    for c in changes {
        for t in &c.targets {
            if let Some(host) = inv.hosts.get_mut(t) {
                set(host, c.key, c.value.clone());
            }
        }
    }
}

/// A host attribute, typed as [`HOST_ATTRS`] says; the only integer is the port.
fn attr(node: &Node, key: &str, ty: Ty, sources: &SourceMap, sink: &mut Sink) -> Option<Value> {
    match ty {
        Ty::LocalPath => string(node, key, sink).map(|s| Value::Path(local_path(&s.value, s.span, sources))),
        Ty::Int { min, max } => {
            int(node, key, min, max, sink).map(|p| Value::Port(u16::try_from(p).expect("in range")))
        }
        Ty::Bool => match node.as_scalar().map(|s| s.typed()) {
            Some(Typed::Bool(b)) => Some(Value::Bool(b)),
            _ => {
                crate::read::wrong(key, "a boolean (yes/no)", node, sink);
                None
            }
        },
        _ => string(node, key, sink).map(|s| Value::Str(s.value)),
    }
}

fn set(host: &mut Host, key: &str, value: Option<Value>) {
    let s = |v: &Option<Value>| match v {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let b = |v: &Option<Value>| match v {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    };
    match key {
        "ssh_host" => host.ssh_host = s(&value),
        "ssh_user" => host.ssh_user = s(&value),
        "ssh_private_key_file" => {
            host.ssh_private_key_file = match value {
                Some(Value::Path(p)) => Some(p),
                _ => None,
            }
        }
        "ssh_password" => host.ssh_password = s(&value),
        "ssh_port" => {
            host.ssh_port = match value {
                Some(Value::Port(p)) => Some(p),
                _ => None,
            }
        }
        "ssh_extra_args" => host.ssh_extra_args = s(&value),
        "ssh_common_args" => host.ssh_common_args = s(&value),
        "sftp_extra_args" => host.sftp_extra_args = s(&value),
        "scp_extra_args" => host.scp_extra_args = s(&value),
        "ssh_pipelining" => host.ssh_pipelining = b(&value),
        "ssh_executable" => host.ssh_executable = s(&value),
        "become" => host.r#become = b(&value),
        "become_method" => host.become_method = s(&value),
        "become_user" => host.become_user = s(&value),
        "become_pass" => host.become_pass = s(&value),
        "become_exe" => host.become_exe = s(&value),
        "become_flags" => host.become_flags = s(&value),
        "python_interpreter" => host.python_interpreter = s(&value),
        "privileged" => host.privileged = b(&value).unwrap_or(true),
        "force_setup" => host.force_setup = b(&value).unwrap_or(false),
        _ => unreachable!("`{key}` is listed in HOST_ATTRS"),
    }
}

fn apply_ansible_var(host: &mut Host, key: &str, value: String, inventory: &Path) {
    let Some((_, attr)) = ANSIBLE_NAMES.iter().find(|(a, _)| *a == key) else {
        host.ansible_vars.insert(key.to_string(), value);
        return;
    };
    let ty = HOST_ATTRS
        .iter()
        .find(|k| k.name == *attr)
        .map(|k| k.ty)
        .expect("mapped attributes exist");
    let v = match ty {
        Ty::LocalPath => Some(Value::Path(inventory.parent().unwrap_or(Path::new("")).join(&value))),
        Ty::Int { .. } => value.parse().ok().map(Value::Port),
        Ty::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Some(Value::Bool(true)),
            "no" | "false" | "off" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => Some(Value::Str(value.clone())),
    };
    match v {
        Some(v) => set(host, attr, Some(v)),
        None => {
            host.ansible_vars.insert(key.to_string(), value);
        }
    }
}

/// Hosts (with their variables) and groups (hosts, children) of an INI inventory.
#[derive(Debug, Default, PartialEq)]
struct IniInventory {
    hosts: IndexMap<String, IndexMap<String, String>>,
    groups: Vec<(String, Vec<String>, Vec<String>)>,
}

fn read_ini_inventory(path: &Path) -> Result<IniInventory, String> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::load::io_reason(&e))?;
    parse_ini_inventory(&text)
}

fn parse_ini_inventory(text: &str) -> Result<IniInventory, String> {
    enum Sect {
        Hosts(String),
        Children(String),
        Vars(String),
    }
    let mut inv = IniInventory::default();
    let mut group_vars: IndexMap<String, IndexMap<String, String>> = IndexMap::new();
    let mut groups: IndexMap<String, (Vec<String>, Vec<String>)> = IndexMap::new();
    let mut sect = Sect::Hosts("ungrouped".into());
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(h) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sect = match h.split_once(':') {
                Some((g, "children")) => Sect::Children(g.to_string()),
                Some((g, "vars")) => Sect::Vars(g.to_string()),
                Some(_) => return Err(format!("line {}: unknown section `[{h}]`", n + 1)),
                None => Sect::Hosts(h.to_string()),
            };
            if let Sect::Hosts(g) | Sect::Children(g) = &sect {
                groups.entry(g.clone()).or_default();
            }
            continue;
        }
        match &sect {
            Sect::Hosts(g) => {
                let mut words = line.split_whitespace();
                let name = words.next().unwrap_or_default().to_string();
                if name.contains('[') {
                    return Err(format!("line {}: host ranges like `{name}` are not supported", n + 1));
                }
                let vars = inv.hosts.entry(name.clone()).or_default();
                for w in words {
                    let (k, v) = w
                        .split_once('=')
                        .ok_or(format!("line {}: `{w}` is not `key=value`", n + 1))?;
                    vars.insert(k.to_string(), v.trim_matches(['"', '\'']).to_string());
                }
                groups.entry(g.clone()).or_default().0.push(name);
            }
            Sect::Children(g) => groups.entry(g.clone()).or_default().1.push(line.to_string()),
            Sect::Vars(g) => {
                let (k, v) = line
                    .split_once('=')
                    .ok_or(format!("line {}: `{line}` is not `key=value`", n + 1))?;
                group_vars
                    .entry(g.clone())
                    .or_default()
                    .insert(k.trim().to_string(), v.trim().trim_matches(['"', '\'']).to_string());
            }
        }
    }
    // Group variables apply to the group's hosts where the host sets none itself.
    for (g, vars) in &group_vars {
        let members: Vec<String> = if g == "all" {
            inv.hosts.keys().cloned().collect()
        } else {
            groups.get(g).map(|(h, _)| h.clone()).unwrap_or_default()
        };
        for h in members {
            let hv = inv.hosts.entry(h).or_default();
            for (k, v) in vars {
                hv.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    inv.groups = groups
        .into_iter()
        .filter(|(g, _)| g != "ungrouped" && g != "all")
        .map(|(g, (h, c))| (g, h, c))
        .collect();
    Ok(inv)
}

fn check_host_name(name: &Spanned<String>, sink: &mut Sink) {
    crate::build::check_name("host or host group name", name, sink);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_ini_inventory_with_children_and_vars() {
        let inv = parse_ini_inventory(
            "en1 ansible_host=10.0.0.1\n[edges]\nen2 ansible_user=tsup\n[cluster:children]\nedges\n[edges:vars]\nansible_user=root\nfoo='bar'\n",
        )
        .unwrap();
        assert_eq!(inv.hosts["en1"]["ansible_host"], "10.0.0.1");
        assert_eq!(
            inv.hosts["en2"]["ansible_user"], "tsup",
            "a host's own value beats its group's"
        );
        assert_eq!(inv.hosts["en2"]["foo"], "bar");
        assert_eq!(
            inv.groups,
            vec![
                ("edges".to_string(), vec!["en2".to_string()], vec![]),
                ("cluster".to_string(), vec![], vec!["edges".to_string()])
            ]
        );
    }

    #[test]
    fn rejects_host_ranges() {
        assert!(
            parse_ini_inventory("[web]\nweb[01:03]\n")
                .unwrap_err()
                .contains("ranges")
        );
    }
}
