//! Hosts, host groups, overrides and Ansible inventories, resolved into the
//! host and group tables every `scope` is checked against.

use std::cell::Cell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::error::{Diagnostic, ErrorKind, Sink};
use crate::format::{self, ANSIBLE_NAMES, HOST_ATTRS, Ty};
use crate::model::{Host, HostGroup, HostId, Scope, VaultId};
use crate::read::{Fields, Spanned, int, local_path, section_items, string};
use crate::span::{SourceMap, Span};
use crate::tree::Node;

use super::inventory_file::{self, InventoryLister};

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

/// Most placements of items on hosts one description may resolve to: an
/// item counts once per host of its scope (a program once per process and
/// host, a host group once per host it holds). Each placement becomes a
/// line of the generated project, so this bounds what a short description
/// can make the tool build and write.
pub const MAX_PLACEMENTS: usize = 2_000_000;

/// Hosts and groups, with the positions of their definitions.
#[derive(Debug)]
pub(crate) struct Inventory {
    pub(crate) hosts: IndexMap<String, Host>,
    pub(crate) groups: IndexMap<String, HostGroup>,
    /// Set when there is no host at all: reported once, not at every scope.
    no_hosts: bool,
    /// The vault passwords the inventories ask for.
    pub(crate) vault_ids: Vec<VaultId>,
    /// What is left of [`MAX_PLACEMENTS`].
    placements: Cell<usize>,
    /// The placement limit was crossed and said so.
    placements_reported: Cell<bool>,
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory {
            hosts: IndexMap::new(),
            groups: IndexMap::new(),
            no_hosts: false,
            vault_ids: Vec::new(),
            placements: Cell::new(MAX_PLACEMENTS),
            placements_reported: Cell::new(false),
        }
    }
}

impl Inventory {
    /// Pays for `n` placements of an item on hosts; false (said once) when
    /// the description would cross [`MAX_PLACEMENTS`].
    pub(crate) fn place(&self, n: usize, span: Span, sink: &mut Sink) -> bool {
        let left = self.placements.get();
        if n <= left {
            self.placements.set(left - n);
            return true;
        }
        self.placements.set(0);
        if !self.placements_reported.replace(true) {
            sink.push(
                Diagnostic::new(
                    ErrorKind::Limit(format!(
                        "the description places more than {MAX_PLACEMENTS} items on hosts (each item counts once per host of its scope)"
                    )),
                    span,
                )
                .help("scope items to the hosts that need them, or split the description"),
            );
        }
        false
    }

    /// The names of `hosts`, joined with `, `, for messages.
    pub(crate) fn host_names(&self, hosts: impl IntoIterator<Item = HostId>) -> String {
        let names: Vec<&str> = hosts
            .into_iter()
            .filter_map(|h| self.hosts.get_index(h.0).map(|(n, _)| n.as_str()))
            .collect();
        names.join(", ")
    }

    /// Resolves a scope expression (`en1`, `edges`, `en1:en2`, `all`).
    pub(crate) fn scope(&self, expr: &Spanned<String>, sink: &mut Sink) -> Option<Scope> {
        if self.no_hosts {
            return Some(Scope {
                expr: expr.value.clone(),
                hosts: Vec::new(),
            });
        }
        // Host indices, sorted at the end: the cost follows the scope's
        // size, not the inventory's.
        let mut picked: Vec<usize> = Vec::new();
        let mut all = false;
        let mut ok = true;
        for part in expr.value.split(':').map(str::trim) {
            if part == "all" || part == "*" {
                if !all && !self.place(self.hosts.len(), expr.span, sink) {
                    return None;
                }
                all = true;
            } else if let Some(i) = self.hosts.get_index_of(part) {
                if !self.place(1, expr.span, sink) {
                    return None;
                }
                picked.push(i);
            } else if let Some(g) = self.groups.get(part) {
                if !self.place(g.hosts.len(), expr.span, sink) {
                    return None;
                }
                picked.extend(
                    g.hosts
                        .iter()
                        .map(|h| self.hosts.get_index_of(h.as_str()).expect("group hosts are known")),
                );
            } else if part == crate::format::HDFS_SCOPE {
                ok = false;
                sink.push(Diagnostic::other_plugin("`scope: hdfs`", "hdfs", expr.span));
            } else {
                ok = false;
                let names = self.hosts.keys().chain(self.groups.keys()).map(String::as_str);
                let help = sink.did_you_mean(part, names).unwrap_or_else(|| {
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
        let hosts: Vec<HostId> = if all {
            (0..self.hosts.len()).map(HostId).collect()
        } else {
            picked.sort_unstable();
            picked.dedup();
            picked.into_iter().map(HostId).collect()
        };
        if hosts.is_empty() {
            sink.push(
                Diagnostic::invalid_value("scope", format!("`{}` contains no host", expr.value), expr.span)
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
pub(crate) fn build(
    root: &[(Node, Node)],
    sources: &SourceMap,
    lister: Option<&dyn InventoryLister>,
    sink: &mut Sink,
) -> Inventory {
    let mut inv = Inventory::default();
    let mut host_spans: IndexMap<String, Span> = IndexMap::new();
    described_hosts(root, sources, &mut inv, &mut host_spans, sink);
    let inv_groups = inventory_files(root, sources, lister, &mut inv, &mut host_spans, sink);
    inv.no_hosts = inv.hosts.is_empty();
    let mut raw = raw_groups(root, &inv, inv_groups, sink);
    group_overrides(root, &mut raw, sink);
    resolve_groups(&raw, &mut inv, sink);
    overrides(root, &mut inv, sources, sink);
    default_become(&mut inv);
    inv
}

/// The hosts of the description's `hosts`.
fn described_hosts(
    root: &[(Node, Node)],
    sources: &SourceMap,
    inv: &mut Inventory,
    host_spans: &mut IndexMap<String, Span>,
    sink: &mut Sink,
) {
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
        add_host(inv, host_spans, host, name.span, sink);
    }
}

/// A group of an Ansible inventory: its name, hosts and children, and the
/// `file` line that named the inventory.
type InventoryGroup = (String, Vec<String>, Vec<String>, Span);

/// The hosts of `ansible_inventories` (a host already known wins), and
/// their groups.
fn inventory_files(
    root: &[(Node, Node)],
    sources: &SourceMap,
    lister: Option<&dyn InventoryLister>,
    inv: &mut Inventory,
    host_spans: &mut IndexMap<String, Span>,
    sink: &mut Sink,
) -> Vec<InventoryGroup> {
    let mut inv_groups: Vec<InventoryGroup> = Vec::new();
    // Inventories are sources too: they count towards the loader's limits.
    let (mut files, mut bytes) = (0usize, 0usize);
    for item in section_items(root, "ansible_inventories", sink) {
        let Some(f) = Fields::new(item, &format::ANSIBLE_INVENTORY, sink) else {
            continue;
        };
        let Some(file) = f.req_str("file", sink) else { continue };
        let path = local_path(&file.value, file.span, sources);
        files += 1;
        let read = crate::load::read_source(&path).inspect(|text| bytes = bytes.saturating_add(text.len()));
        if files > crate::load::MAX_FILES || bytes > crate::load::MAX_SOURCE_BYTES {
            sink.push(
                Diagnostic::new(
                    ErrorKind::Limit(format!(
                        "`ansible_inventories` read more than {} files or {} MiB",
                        crate::load::MAX_FILES,
                        crate::load::MAX_SOURCE_BYTES >> 20
                    )),
                    file.span,
                )
                .help("name each inventory once"),
            );
            break;
        }
        vault_id(&f, sources, &mut inv.vault_ids, sink);
        let parsed = read
            .map_err(inventory_file::Unreadable::from)
            .and_then(|text| inventory_file::read(&path, &text, lister));
        match parsed {
            Ok(parsed) => {
                for (name, vars) in parsed.hosts {
                    // HADeploy's rule: a host the description names wins over
                    // the inventory's, and so does an earlier inventory's.
                    if inv.hosts.contains_key(&name) {
                        continue;
                    }
                    let mut host = Host {
                        name: name.clone(),
                        privileged: true,
                        ..Host::default()
                    };
                    for (k, v) in vars {
                        apply_ansible_var(&mut host, &k, v, &path);
                    }
                    add_host(inv, host_spans, host, file.span, sink);
                }
                for (name, hosts, children) in parsed.groups {
                    inv_groups.push((name, hosts, children, file.span));
                }
            }
            Err(e) => sink.push(
                Diagnostic::new(
                    ErrorKind::Read {
                        path: path.display().to_string(),
                        reason: e.reason,
                    },
                    file.span,
                )
                .help(e.help),
            ),
        }
    }
    inv_groups
}

/// Every group as written, from the inventories and `host_groups`: a
/// description's group replaces an inventory's of the same name.
fn raw_groups(
    root: &[(Node, Node)],
    inv: &Inventory,
    inv_groups: Vec<InventoryGroup>,
    sink: &mut Sink,
) -> IndexMap<String, RawGroup> {
    // Groups: read all, then flatten, so that a group may name one defined later.
    let mut raw: IndexMap<String, RawGroup> = IndexMap::new();
    let mut from_inventory: HashSet<String> = HashSet::new();
    for (name, hosts, children, span) in inv_groups {
        if name == format::TARGET_GROUP {
            reserved_group(&Spanned { value: name, span }, sink);
            continue;
        }
        // The first inventory naming a group defines it.
        if !from_inventory.insert(name.clone()) {
            continue;
        }
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
        if name.value == format::TARGET_GROUP || name.value == "all" {
            reserved_group(&name, sink);
            continue;
        }
        if inv.hosts.contains_key(&name.value) {
            sink.push(
                Diagnostic::duplicate("host or host group name", name.value, name.span)
                    .help("a scope could not tell the host from the group: rename one of them"),
            );
            continue;
        }
        let hosts = f.str_list("hosts", sink);
        let groups = f.str_list("groups", sink);
        let force = f.bool_or("force_setup", false, sink);
        // A group of an inventory gives way to the description's, as in HADeploy.
        if from_inventory.remove(&name.value) {
            raw.shift_remove(&name.value);
        }
        if let Some(RawGroup { span: first, .. }) = raw.get(&name.value) {
            sink.push(
                Diagnostic::duplicate("host group", name.value, name.span)
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
    raw
}

/// The groups with their hosts flattened (children's included), and `all`.
fn resolve_groups(raw: &IndexMap<String, RawGroup>, inv: &mut Inventory, sink: &mut Sink) {
    for RawGroup { hosts, .. } in raw.values() {
        for h in hosts {
            if !inv.hosts.contains_key(&h.value) {
                let help = sink.did_you_mean(&h.value, inv.hosts.keys().map(String::as_str));
                sink.push(Diagnostic::new(ErrorKind::UnknownHost(h.value.clone()), h.span).maybe_help(help));
            }
        }
    }
    let flat = flatten(raw, inv, sink);
    for ((name, group), members) in raw.iter().zip(flat) {
        let hosts: Vec<String> = members
            .iter()
            .map(|&i| inv.hosts.get_index(i).expect("a known host").0.clone())
            .collect();
        let group = HostGroup {
            name: name.clone(),
            direct_hosts: group.hosts.iter().map(|h| h.value.clone()).collect(),
            children: group.children.iter().map(|c| c.value.clone()).collect(),
            hosts,
            force_setup: group.force_setup,
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
}

/// As HADeploy did: a way to become another user means becoming it,
/// unless `become: no` says otherwise.
fn default_become(inv: &mut Inventory) {
    for host in inv.hosts.values_mut() {
        let wants = host.become_user.is_some()
            || host.become_method.is_some()
            || host.become_pass.is_some()
            || host.become_exe.is_some()
            || host.become_flags.is_some();
        if wants && host.r#become.is_none() {
            host.r#become = Some(true);
        }
    }
}

/// `host_group_overrides`, as HADeploy applied them: `hosts` replaces a
/// group's own hosts, `force_setup` its flag; `all` or `*` names every group.
fn group_overrides(root: &[(Node, Node)], raw: &mut IndexMap<String, RawGroup>, sink: &mut Sink) {
    for item in section_items(root, "host_group_overrides", sink) {
        let Some(f) = Fields::new(item, &format::HOST_GROUP_OVERRIDE, sink) else {
            continue;
        };
        let Some(name) = f.req_str("name", sink) else { continue };
        let hosts = f.get("hosts").map(|_| f.str_list("hosts", sink));
        let force = f.opt_bool("force_setup", sink);
        let targets: Vec<String> = if name.value == "all" || name.value == "*" {
            raw.keys().cloned().collect()
        } else if raw.contains_key(&name.value) {
            vec![name.value.clone()]
        } else {
            let help = sink
                .did_you_mean(&name.value, raw.keys().map(String::as_str))
                .unwrap_or_else(|| "name a group of `host_groups` or of an inventory, or `all`".into());
            sink.push(Diagnostic::new(ErrorKind::UnknownHost(name.value.clone()), name.span).help(help));
            continue;
        };
        for t in targets {
            let g = raw.get_mut(&t).expect("a known group");
            if let Some(h) = &hosts {
                g.hosts.clone_from(h);
            }
            if let Some(b) = force {
                g.force_setup = b;
            }
        }
    }
}

fn add_host(inv: &mut Inventory, spans: &mut IndexMap<String, Span>, host: Host, span: Span, sink: &mut Sink) {
    if let Some(first) = spans.get(&host.name) {
        let at = sources_line(*first);
        sink.push(Diagnostic::duplicate("host", host.name, span).help(format!(
            "it is first defined {at}; use `host_overrides` to change a host's attributes"
        )));
        return;
    }
    spans.insert(host.name.clone(), span);
    inv.hosts.insert(host.name.clone(), host);
}

fn sources_line(span: Span) -> String {
    format!("at line {}", span.line)
}

/// The hosts of every group (by index in `raw`), its own and those of the
/// groups it holds, in inventory order; reports unknown children and cycles.
///
/// Linear in groups and `groups:` entries: the groups are split into
/// strongly connected components (Tarjan's, without recursion, so a chain
/// of a hundred thousand groups cannot overflow the stack), and each
/// component's hosts are computed once from those of the components it
/// holds. Each host a group holds is paid for as a placement.
fn flatten(raw: &IndexMap<String, RawGroup>, inv: &Inventory, sink: &mut Sink) -> Vec<Vec<usize>> {
    let n = raw.len();
    let mut edges: Vec<Vec<(usize, Span)>> = vec![Vec::new(); n];
    let mut holds_all = vec![false; n];
    for (i, group) in raw.values().enumerate() {
        for child in &group.children {
            if child.value == "all" {
                holds_all[i] = true;
            } else if let Some(j) = raw.get_index_of(&child.value) {
                edges[i].push((j, child.span));
            } else {
                let help = sink.did_you_mean(&child.value, raw.keys().map(String::as_str));
                sink.push(Diagnostic::new(ErrorKind::UnknownHost(child.value.clone()), child.span).maybe_help(help));
            }
        }
    }
    let components = strongly_connected(&edges);
    let mut component_of = vec![0; n];
    for (c, members) in components.iter().enumerate() {
        for &m in members {
            component_of[m] = c;
        }
    }
    for members in &components {
        let cyclic = members.len() > 1 || edges[members[0]].iter().any(|(j, _)| *j == members[0]);
        if cyclic {
            report_cycle(members, &edges, &component_of, raw, sink);
        }
    }
    // Components come out after every component they reach: their hosts are known.
    let mut hosts_of: Vec<Vec<usize>> = Vec::with_capacity(components.len());
    let mut seen = vec![usize::MAX; inv.hosts.len()];
    let mut exhausted = false;
    for (c, members) in components.iter().enumerate() {
        let mut hosts: Vec<usize> = Vec::new();
        if members.iter().any(|&m| holds_all[m]) {
            hosts.extend(0..inv.hosts.len());
        } else {
            let mut add = |h: usize, hosts: &mut Vec<usize>| {
                if seen[h] != c {
                    seen[h] = c;
                    hosts.push(h);
                }
            };
            for &m in members {
                for h in &raw[m].hosts {
                    if let Some(i) = inv.hosts.get_index_of(&h.value) {
                        add(i, &mut hosts);
                    }
                }
                for &(j, _) in &edges[m] {
                    let d = component_of[j];
                    if d != c {
                        if !exhausted && !inv.place(hosts_of[d].len(), raw[m].span, sink) {
                            exhausted = true;
                        }
                        if !exhausted {
                            for &h in &hosts_of[d] {
                                add(h, &mut hosts);
                            }
                        }
                    }
                }
            }
            hosts.sort_unstable();
        }
        hosts_of.push(hosts);
    }
    let mut out = Vec::with_capacity(n);
    for (i, group) in raw.values().enumerate() {
        let hosts = &hosts_of[component_of[i]];
        if exhausted || !inv.place(hosts.len(), group.span, sink) {
            exhausted = true;
            out.push(Vec::new());
        } else {
            out.push(hosts.clone());
        }
    }
    out
}

/// The strongly connected components of a graph, each listed after every
/// component it reaches (Tarjan's algorithm with an explicit stack).
fn strongly_connected(edges: &[Vec<(usize, Span)>]) -> Vec<Vec<usize>> {
    const NONE: usize = usize::MAX;
    let n = edges.len();
    let (mut index, mut low, mut on_stack) = (vec![NONE; n], vec![0; n], vec![false; n]);
    let (mut stack, mut components, mut next) = (Vec::new(), Vec::new(), 0);
    let mut calls: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if index[root] != NONE {
            continue;
        }
        calls.push((root, 0));
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&(v, pos)) = calls.last() {
            if let Some(&(w, _)) = edges[v].get(pos) {
                if let Some(top) = calls.last_mut() {
                    top.1 += 1;
                }
                if index[w] == NONE {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(u, _)) = calls.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

/// Reports one cycle of a component, from its group that sorts first, along
/// the first path (in `groups:` order) that leads back to it.
fn report_cycle(
    members: &[usize],
    edges: &[Vec<(usize, Span)>],
    component_of: &[usize],
    raw: &IndexMap<String, RawGroup>,
    sink: &mut Sink,
) {
    let name = |i: usize| raw.get_index(i).expect("a group").0.as_str();
    let Some(&start) = members.iter().min_by_key(|&&m| name(m)) else {
        return;
    };
    let component = component_of[start];
    let mut visited = vec![false; raw.len()];
    visited[start] = true;
    let mut path: Vec<(usize, usize)> = vec![(start, 0)];
    while let Some(&(v, pos)) = path.last() {
        let Some(&(w, span)) = edges[v].get(pos) else {
            path.pop();
            continue;
        };
        if let Some(top) = path.last_mut() {
            top.1 += 1;
        }
        if w == start {
            let cycle: Vec<&str> = path.iter().map(|&(g, _)| name(g)).collect();
            sink.push(
                Diagnostic::new(
                    ErrorKind::Conflict(format!(
                        "host group `{}` contains itself ({} -> {})",
                        name(start),
                        cycle.join(" -> "),
                        name(start)
                    )),
                    span,
                )
                .help("remove one of the `groups:` entries of the cycle"),
            );
            return;
        }
        if component_of[w] == component && !visited[w] {
            visited[w] = true;
            path.push((w, 0));
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
            if !inv.place(inv.hosts.len(), name.span, sink) {
                continue;
            }
            inv.hosts.keys().cloned().collect()
        } else if inv.hosts.contains_key(&name.value) {
            vec![name.value.clone()]
        } else if let Some(g) = inv.groups.get(&name.value) {
            if !inv.place(g.hosts.len(), name.span, sink) {
                continue;
            }
            g.hosts.clone()
        } else {
            if !inv.no_hosts {
                let help = sink
                    .did_you_mean(
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
            if (unset || value.is_some()) && inv.place(targets.len(), name.span, sink) {
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
        Ty::LocalPath => {
            let s = string(node, key, sink)?;
            let path = local_path(&s.value, s.span, sources);
            // The only local path among host attributes: the ssh key.
            if !path.is_file() {
                sink.push(
                    Diagnostic::new(
                        ErrorKind::LocalFileNotFound {
                            what: "private key file",
                            name: s.value.clone(),
                        },
                        s.span,
                    )
                    .help(format!(
                        "no file at `{}`; a relative path starts from the file that names it, `~` from your home",
                        path.display()
                    )),
                );
                return None;
            }
            Some(Value::Path(path))
        }
        Ty::Int { min, max } => {
            int(node, key, min, max, sink).map(|p| Value::Port(u16::try_from(p).expect("in range")))
        }
        Ty::Bool => crate::read::boolean(node, key, sink).map(Value::Bool),
        _ => string(node, key, sink).map(|s| Value::Str(s.value)),
    }
}

fn set(host: &mut Host, key: &str, value: Option<Value>) {
    // An inventory's value for the same attribute, kept as Ansible read it
    // (a vault value), gives way.
    host.ansible_vars
        .retain(|k, _| !ANSIBLE_NAMES.iter().any(|(a, attr)| a == k && *attr == key));
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

/// The vault password an inventory's `vault_password_file` or
/// `ask_vault_password` gives Ansible when it runs, labelled by the
/// inventory's `name`. Never read here: values stay encrypted.
fn vault_id(f: &Fields, sources: &SourceMap, ids: &mut Vec<VaultId>, sink: &mut Sink) {
    let file = f
        .get("vault_password_file")
        .and_then(|n| string(n, "vault_password_file", sink));
    let ask = f.bool_or("ask_vault_password", false, sink);
    if file.is_none() && !ask {
        return;
    }
    let name = f.opt_str("name", sink);
    let label = match name {
        // Ansible reads `LABEL@SOURCE`, listed with commas.
        Some(n) if !format::is_name(&n.value) => {
            sink.push(
                Diagnostic::new(
                    ErrorKind::InvalidValue {
                        key: "name".into(),
                        reason: "it labels the inventory's vault password for Ansible (`LABEL@prompt`)".into(),
                    },
                    n.span,
                )
                .help("use letters, digits, `_`, `-` and `.` only"),
            );
            return;
        }
        Some(n) => n.value,
        None => "default".to_string(),
    };
    // As HADeploy: a password file, if given, is used rather than a prompt.
    let file = match file {
        None => None,
        Some(s) => {
            let path = local_path(&s.value, s.span, sources);
            let text = path.to_string_lossy();
            // It is written into `ansible.cfg`, whose parser cuts a value at
            // ` ;` or ` #`, expands `%` and ends it at a line break.
            let problem = if text.contains(',') {
                Some("Ansible's list of vault passwords cannot hold a path with `,`")
            } else if crate::format::supervisor_comment_start(&text).is_some() {
                Some("Ansible's configuration would cut this path at its ` ;` or ` #`")
            } else if text.contains(['%', '\n', '\r']) || text.trim() != text {
                Some("Ansible's configuration cannot hold a path with `%`, a line break or spaces at either end")
            } else if !path.is_file() {
                Some("there is no file at this path")
            } else {
                None
            };
            if let Some(reason) = problem {
                sink.push(
                    Diagnostic::new(
                        ErrorKind::InvalidValue {
                            key: "vault_password_file".into(),
                            reason: reason.into(),
                        },
                        s.span,
                    )
                    .help("a relative path starts from the file that names it, `~` from your home"),
                );
                return;
            }
            Some(path)
        }
    };
    ids.push(VaultId { label, file });
}

/// An inventory's variable: a host attribute where it is one and its value
/// reads as one, else passed through (vault values always are, and so is
/// a string holding `{{`, `{%` or `{#`: passed through, it is written as
/// data that Ansible never renders).
fn apply_ansible_var(host: &mut Host, key: &str, value: serde_json::Value, inventory: &Path) {
    use serde_json::Value as J;
    let template = value.as_str().is_some_and(crate::expr::has_jinja_marker);
    let Some((_, attr)) = ANSIBLE_NAMES.iter().find(|(a, _)| *a == key).filter(|_| !template) else {
        host.ansible_vars.insert(key.to_string(), value);
        return;
    };
    let ty = HOST_ATTRS
        .iter()
        .find(|k| k.name == *attr)
        .map(|k| k.ty)
        .expect("mapped attributes exist");
    let v = match (ty, &value) {
        (Ty::LocalPath, J::String(s)) => Some(Value::Path(inventory.parent().unwrap_or(Path::new("")).join(s))),
        (Ty::Int { .. }, J::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()).map(Value::Port),
        (Ty::Int { .. }, J::String(s)) => s.parse().ok().map(Value::Port),
        (Ty::Bool, J::Bool(b)) => Some(Value::Bool(*b)),
        (Ty::Bool, J::String(s)) => format::bool_word(s).map(Value::Bool),
        (Ty::LocalPath | Ty::Int { .. } | Ty::Bool, _) => None,
        (_, J::String(s)) => Some(Value::Str(s.clone())),
        (_, J::Number(n)) => Some(Value::Str(n.to_string())),
        _ => None,
    };
    match v {
        Some(v) => set(host, attr, Some(v)),
        None => {
            host.ansible_vars.insert(key.to_string(), value);
        }
    }
}

/// A group named as one that always exists: Ansible's `all`, or the one
/// hadeploy writes with every described host.
fn reserved_group(name: &Spanned<String>, sink: &mut Sink) {
    let help = if name.value == "all" {
        "the group `all` always exists and holds every host: choose another name".to_string()
    } else {
        format!(
            "hadeploy writes the group `{}` with every host of the description, for its playbooks to target: \
             choose another name",
            format::TARGET_GROUP
        )
    };
    sink.push(Diagnostic::duplicate("host group", &name.value, name.span).help(help));
}

fn check_host_name(name: &Spanned<String>, sink: &mut Sink) {
    crate::resolve::check_name("host or host group name", name, sink);
}
