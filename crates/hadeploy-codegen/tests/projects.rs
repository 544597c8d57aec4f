//! Every valid fixture of `tests/fixtures` rendered into an Ansible project:
//! one snapshot holding every generated file, plus checks that the output is
//! deterministic, parses, and passes Ansible's own tools when present.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use hadeploy_codegen::{Content, Options, Project, render};
use hadeploy_model::SrcArg;

mod common;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .canonicalize()
        .unwrap()
}

fn srcs_of(list: &Path) -> Vec<SrcArg> {
    let dir = list.parent().unwrap();
    std::fs::read_to_string(list)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match SrcArg::parse(l) {
            SrcArg::File(f) => SrcArg::File(dir.join(f)),
            var => var,
        })
        .collect()
}

fn project_of(list: &Path) -> Project {
    let model = hadeploy_model::load(&srcs_of(list)).unwrap_or_else(|d| panic!("{} fails:\n{d}", list.display()));
    render(&model, &Options::default()).unwrap_or_else(|e| panic!("{}: {e}", list.display()))
}

/// The folder the project's static files come from.
fn roles_templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../roles-templates")
}

/// Whether `path` of a project is a copy of `roles-templates/`, byte for byte.
fn is_static_copy(path: &str, content: &Content) -> bool {
    let Some(bytes) = content.as_bytes() else { return false };
    std::fs::read(roles_templates().join(path)).is_ok_and(|t| t == bytes)
}

/// The fixture whose snapshot holds the playbooks whole: the others show
/// how theirs differ from its, so that a change to a playbook's template
/// reads once, not in every snapshot.
const REFERENCE: &str = "seed/simple/app.srcs";

/// The playbooks of a project: the top-level `.yml` files of
/// `roles-templates/` but the inventory and the `pre_tasks` they include.
fn playbooks() -> BTreeSet<String> {
    std::fs::read_dir(roles_templates())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yml") && n != "inventory.yml" && n != "pre_tasks.yml")
        .collect()
}

/// Every file in `==== path ====` sections, but the copies of
/// `roles-templates/` (the same in every project, named in one line) and,
/// given the `reference` project, the playbooks: those the same as its
/// named in one line, the others as a diff to its; paths of this checkout
/// removed.
fn gallery(project: &Project, reference: Option<&Project>) -> String {
    let mut out = String::new();
    let copies: Vec<&str> = project
        .iter()
        .filter(|(p, c)| is_static_copy(p, c))
        .map(|(p, _)| p.as_str())
        .collect();
    out.push_str(&format!(
        "==== copied from roles-templates/: {} ====\n",
        copies.join(", ")
    ));
    let playbooks = playbooks();
    let reference_text = |path: &str| {
        let reference = reference?;
        let (_, content) = reference.iter().find(|(p, _)| p.as_str() == path)?;
        Some(String::from_utf8(content.as_bytes()?.to_vec()).unwrap())
    };
    let text_of = |content: &Content| content.as_bytes().map(|b| String::from_utf8(b.to_vec()).unwrap());
    let as_reference: Vec<&str> = project
        .iter()
        .filter(|(p, c)| playbooks.contains(p.as_str()) && reference_text(p).is_some_and(|r| Some(r) == text_of(c)))
        .map(|(p, _)| p.as_str())
        .collect();
    if reference.is_some() {
        out.push_str(&format!(
            "==== playbooks as {REFERENCE}'s: {} ====\n",
            as_reference.join(", ")
        ));
    }
    for (path, content) in project
        .iter()
        .filter(|(p, c)| !is_static_copy(p, c) && !as_reference.contains(&p.as_str()))
    {
        if let (true, Some(before), Some(after)) = (
            playbooks.contains(path.as_str()),
            reference_text(path),
            text_of(content),
        ) {
            out.push_str(&format!("==== {path}: against {REFERENCE}'s ====\n"));
            let diff = similar::TextDiff::from_lines(&before, &after);
            for hunk in diff.unified_diff().context_radius(2).iter_hunks() {
                out.push_str(&hunk.to_string());
            }
            continue;
        }
        out.push_str(&format!("==== {path} ====\n"));
        match content {
            Content::Copy(c) => {
                out.push_str(&format!(
                    "<copy of {}: {} bytes, sha1 {}>\n",
                    c.from.display(),
                    c.len,
                    c.sha1
                ));
            }
            Content::Bytes(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => out.push_str(text),
                Err(_) => out.push_str(&format!("<{} bytes of binary>\n", bytes.len())),
            },
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out.replace(&format!("{}/", fixtures().display()), "")
}

#[test]
fn fixtures_render_to_projects() {
    let reference = project_of(&fixtures().join(REFERENCE));
    insta::glob!("../../../tests/fixtures", "**/*.srcs", |path| {
        let project = project_of(path);
        let again = project_of(path);
        assert!(
            project == again,
            "{}: rendering twice must give the same bytes",
            path.display()
        );
        for (p, content) in &project {
            assert!(!p.starts_with('/') && !p.contains(".."), "{p} is not a relative path");
            let Some(bytes) = content.as_bytes() else { continue };
            let text = String::from_utf8_lossy(bytes);
            let root = fixtures();
            // Only secrets may name a path of this machine, the ssh key and
            // the vault password file: they stay where the user keeps them.
            for line in text.lines().filter(|l| l.contains(root.to_str().unwrap())) {
                assert!(
                    line.contains("ansible_ssh_private_key_file") || line.starts_with("vault_identity_list = "),
                    "{p}: absolute local path in `{line}`"
                );
            }
            if p.ends_with(".yml") {
                parse_yaml(p, &text);
            }
        }
        let against = (path != fixtures().join(REFERENCE)).then_some(&reference);
        insta::with_settings!({ omit_expression => true }, {
            insta::assert_snapshot!(format!("{}{}", description_of(path), gallery(&project, against)));
        });
    });
}

/// The description a `.srcs` list names, as the snapshot's first sections:
/// each source's text, or the variable it sets.
fn description_of(list: &Path) -> String {
    let dir = list.parent().unwrap();
    let mut out = String::new();
    for line in std::fs::read_to_string(list)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        out.push_str(&format!("==== description: --src {line} ====\n"));
        if let SrcArg::File(f) = SrcArg::parse(line) {
            let text = std::fs::read_to_string(dir.join(f)).unwrap();
            out.push_str(&text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

/// Every file `roles-templates/` holds, but the Tera templates the views
/// render, reaches each project unchanged: the galleries name them only.
#[test]
fn static_role_files_are_copied_unchanged() {
    let project = project_of(&fixtures().join("seed/simple/app.srcs"));
    let mut copied = 0;
    for entry in walk(&roles_templates().join("collections")) {
        let rel = entry
            .strip_prefix(roles_templates())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        // Rendered with the tool's version.
        if rel.ends_with("/galaxy.yml") || rel.ends_with("/CHANGELOG.md") {
            continue;
        }
        let content = project
            .get(&rel)
            .unwrap_or_else(|| panic!("{rel} is not in the project"));
        assert!(is_static_copy(&rel, content), "{rel} differs from roles-templates/");
        copied += 1;
    }
    assert!(copied >= 12, "{copied}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn parse_yaml(name: &str, text: &str) {
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    for event in parser.by_ref() {
        if let Err(e) = event {
            panic!("{name} is not valid YAML: {e}\n{text}");
        }
    }
}

fn venv_bin(tool: &str) -> Option<PathBuf> {
    let p = PathBuf::from("/var/tmp/hadeploy-venv/bin").join(tool);
    p.exists().then_some(p)
}

/// `ansible-playbook` of the venv; `None` (the test skips, saying so) where
/// there is none, but never in CI.
fn ansible_playbook() -> Option<PathBuf> {
    let found = venv_bin("ansible-playbook");
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide /var/tmp/hadeploy-venv (see .ci/run)"
        );
        eprintln!("SKIPPED: no /var/tmp/hadeploy-venv with ansible-core (bash tests/setup-venv.sh)");
    }
    found
}

/// The playbooks of every project.
const PLAYBOOKS: [&str; 6] = [
    "deploy.yml",
    "remove.yml",
    "start.yml",
    "stop.yml",
    "status.yml",
    "logs.yml",
];

fn write_case(case: &str, dir: &Path) -> PathBuf {
    let project = project_of(&fixtures().join(case));
    let out = dir.join("project");
    hadeploy_codegen::write(&project, &out).unwrap();
    out
}

#[test]
fn ansible_accepts_generated_projects() {
    let (Some(playbook), Some(lint)) = (venv_bin("ansible-playbook"), venv_bin("ansible-lint")) else {
        // CI installs the venv (.ci/run): there a missing tool is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must provide /var/tmp/hadeploy-venv (see .ci/run)"
        );
        eprintln!("SKIPPED: no /var/tmp/hadeploy-venv with ansible-core and ansible-lint (bash tests/setup-venv.sh)");
        return;
    };
    for case in ["seed/simple/app.srcs", "seed/nonroot/app.srcs", "rich/app.srcs"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = write_case(case, tmp.path());
        for pb in PLAYBOOKS {
            let o = Command::new(&playbook)
                .arg("--syntax-check")
                .arg(pb)
                .current_dir(&out)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{case} {pb}: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let o = Command::new(&lint)
            .args(["--offline", "--profile", "production", "--nocolor"])
            .env("ANSIBLE_LINT_SKIP_SCHEMA_UPDATE", "1")
            .current_dir(&out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{case}: ansible-lint:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// RHEL-family hosts get the same project as Debian ones: only the inventory
/// differs, by the interpreter each host names. What makes it work there is
/// in the roles, checked here: the package goes through the host's own
/// package manager, and a missing package (EPEL not enabled) says so.
#[test]
fn rhel_hosts_differ_only_by_their_interpreter() {
    let debian = project_of(&fixtures().join("seed/simple/app.srcs"));
    let rhel = project_of(&fixtures().join("rhel/app.srcs"));
    let differ: Vec<&String> = rhel.keys().filter(|p| debian.get(*p) != rhel.get(*p)).collect();
    assert_eq!(differ, ["inventory.yml"]);
    assert_eq!(debian.keys().collect::<Vec<_>>(), rhel.keys().collect::<Vec<_>>());
    let text = |p: &Project, f: &str| String::from_utf8(p[f].as_bytes().unwrap().to_vec()).unwrap();
    let (inv_debian, inv_rhel) = (text(&debian, "inventory.yml"), text(&rhel, "inventory.yml"));
    // The key is named by the same file, reached through `rhel/../seed/`.
    let added: Vec<&str> = inv_rhel
        .lines()
        .filter(|l| !inv_debian.contains(l) && !l.contains("ansible_ssh_private_key_file"))
        .collect();
    assert_eq!(
        added,
        [
            "      ansible_python_interpreter: \"/usr/libexec/platform-python\"",
            "      ansible_python_interpreter: \"/usr/bin/python3\""
        ]
    );

    let deploy = text(
        &rhel,
        "collections/ansible_collections/hadeploy/supervisor/roles/hadeploy_supervisor/tasks/package.yml",
    );
    let package = deploy
        .split("\n- name: ")
        .find(|t| t.starts_with("Install the supervisor package"))
        .unwrap();
    assert!(
        package.contains("  ansible.builtin.package:\n    name: supervisor\n"),
        "{package}"
    );
    assert!(package.contains("    use: auto\n"), "{package}");
    for manager in ["apt", "dnf", "yum"] {
        assert!(!deploy.contains(&format!("ansible.builtin.{manager}:")), "{manager}");
    }
    assert!(deploy.contains("from EPEL, which hadeploy does not enable"));
    let unit = text(&rhel, "files/supervisors/tsupv/supervisord_tsupv.service");
    assert!(unit.contains("ExecStart=/usr/bin/supervisord -n -c /etc/supervisord_tsupv.conf"));
}

/// Paths holding an Ansible expression are checked once Ansible renders
/// them: by the base role's first task (the action plugin's select), run
/// by Ansible on the controller with the rendered values of each case.
#[test]
fn ansible_refuses_rendered_paths_that_are_not_the_applications() {
    let Some(playbook) = ansible_playbook() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = write_case("hadeploy-docs/rendered_paths.srcs", tmp.path());
    std::fs::write(
        out.join("check.yml"),
        "- name: Check\n  hosts: en1\n  connection: local\n  gather_facts: false\n  vars_files: [vars/hadeploy.yml]\n  tasks:\n    \
         - name: Select\n      ansible.builtin.import_role:\n        name: hadeploy.supervisor.hadeploy_base\n        tasks_from: select\n",
    )
    .unwrap();
    for (app_home, ok) in [
        ("/opt/app", true),
        ("/srv//my app/./x/", true),
        ("/", false),
        ("/etc/", false),
        ("/usr//lib64", false),
        ("/opt/../etc", false),
        ("opt/app", false),
        // Inside a folder whose whole content is the system's.
        ("/etc/pam.d", false),
        ("/root/.ssh", false),
        ("/var/run/systemd/x", false),
        ("/run/supervisor_x", true),
    ] {
        let o = Command::new(&playbook)
            .arg("check.yml")
            .arg("-e")
            .arg(format!("app_home={app_home:?}"))
            .current_dir(&out)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.success(), ok, "{app_home}: {text}");
        if !ok {
            assert!(text.contains("or a folder or file of the system"), "{app_home}: {text}");
        }
    }
}

/// The `hadeploy_*` names in `text`.
fn hadeploy_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("hadeploy_") {
        let before = rest[..at].chars().next_back();
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.insert(name.clone());
        }
        rest = &rest[at + name.len()..];
    }
    out
}

/// The keys a generated YAML file sets at its top level.
fn top_keys(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k))
        .filter(|k| k.starts_with("hadeploy_"))
        .map(str::to_string)
        .collect()
}

/// Given by `hadeploy` on the command line (`--extra-vars`): `status.rs`
/// and `logs.rs` of the CLI.
const COMMAND_LINE_INPUTS: [&str; 6] = [
    "hadeploy_supervisor_status_dir",
    "hadeploy_supervisor_plan_dir",
    "hadeploy_supervisor_logs_dir",
    "hadeploy_supervisor_logs_lines",
    "hadeploy_supervisor_logs_stream",
    "hadeploy_supervisor_logs_program",
];

/// Read by a generated playbook, not by a role: `--rolling` of the CLI
/// gives it to `deploy.yml`.
const PLAYBOOK_INPUTS: [&str; 1] = ["hadeploy_rolling"];

/// The typed contract between the generator and the roles: what the roles
/// and playbooks read is exactly what the generator writes (or the command
/// line gives), and docs/generated-project.md lists every input.
#[test]
fn roles_read_exactly_the_inputs_the_generator_writes() {
    let mut written = BTreeSet::new();
    let mut read = BTreeSet::new();
    let mut own = BTreeSet::from(["hadeploy_base".to_string(), "hadeploy_supervisor".to_string()]);
    for case in ["rich/app.srcs", "seed/simple/app.srcs", "seed/nonroot/app.srcs"] {
        let project = project_of(&fixtures().join(case));
        for (path, content) in project.iter() {
            let Some(text) = content.as_bytes().and_then(|b| std::str::from_utf8(b).ok()) else {
                continue;
            };
            if path == "vars/hadeploy.yml"
                || path.starts_with("group_vars/")
                || path.ends_with("/vars/main.yml")
                || path.ends_with("/defaults/main.yml")
            {
                written.extend(top_keys(text));
            } else if path.ends_with("/plugins/action/hadeploy_supervisor.py") {
                // What the plugin reads from the host's variables.
                let plugin = hadeploy_codegen::inputs::PLUGIN_INPUTS.map(|k| k.name);
                read.extend(
                    hadeploy_names(text)
                        .into_iter()
                        .filter(|n| plugin.contains(&n.as_str())),
                );
            } else if path.ends_with(".yml")
                && !path.starts_with("files/")
                && path != "inventory.yml"
                && !path.ends_with("/meta/argument_specs.yml")
            {
                read.extend(hadeploy_names(text));
                // What the roles name themselves: registered results, facts
                // and task variables; a playbook's `vars` are inputs it gives.
                let playbook = !path.contains('/');
                for line in text.lines() {
                    let t = line.trim_start();
                    let name = t.strip_prefix("register: ").map(str::trim).or_else(|| {
                        t.split_once(':')
                            .map(|(k, _)| k)
                            .filter(|k| k.starts_with("hadeploy_") && line.starts_with("    "))
                    });
                    match name {
                        Some(n) if playbook => written.insert(n.to_string()),
                        Some(n) => own.insert(n.to_string()),
                        None => false,
                    };
                }
            }
        }
    }
    // The group the playbooks target, not a variable.
    own.insert(hadeploy_model::format::TARGET_GROUP.to_string());
    let read: BTreeSet<String> = read.difference(&own).cloned().collect();
    let given: BTreeSet<String> = COMMAND_LINE_INPUTS
        .iter()
        .chain(&PLAYBOOK_INPUTS)
        .map(|s| s.to_string())
        .collect();
    let inputs: BTreeSet<String> = written.union(&given).cloned().collect();
    let unwritten: Vec<&String> = read.difference(&inputs).collect();
    let unread: Vec<&String> = inputs.difference(&read).collect();
    assert!(
        unwritten.is_empty(),
        "the roles read inputs nothing writes: {unwritten:?}"
    );
    assert!(unread.is_empty(), "inputs written that no role reads: {unread:?}");
    // The argument specs declare exactly these.
    let declared: BTreeSet<String> = hadeploy_codegen::inputs::ROLES
        .iter()
        .flat_map(|r| r.inputs().into_iter().chain([&r.action]))
        .map(|k| k.name.to_string())
        .collect();
    let public: BTreeSet<String> = inputs
        .iter()
        .filter(|i| !i.contains("__") && !PLAYBOOK_INPUTS.contains(&i.as_str()))
        .filter(|i| {
            !hadeploy_codegen::inputs::PLUGIN_INPUTS
                .iter()
                .any(|k| k.name == i.as_str())
        })
        .cloned()
        .collect();
    assert_eq!(declared, public, "the argument specs and the inputs the roles read");
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/generated-project.md")).unwrap();
    let listed = doc
        .split("## The roles' inputs")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap_or_default();
    // A role's internal names hold `__`: not inputs anyone gives.
    let undocumented: Vec<&String> = inputs
        .iter()
        .filter(|i| !i.contains("__") && !listed.contains(&format!("`{i}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "docs/generated-project.md does not list: {undocumented:?}"
    );
    // The table's first column.
    let listed_names: BTreeSet<String> = listed
        .lines()
        .filter_map(|l| l.strip_prefix("| ")?.split(" | ").next())
        .flat_map(hadeploy_names)
        .collect();
    let stale: Vec<&String> = listed_names.difference(&inputs).collect();
    assert!(
        stale.is_empty(),
        "docs/generated-project.md lists inputs that are none: {stale:?}"
    );
}

/// An estate's inventory may hold other hosts than the description's: the
/// playbooks target the group of the described hosts, so those are left
/// alone (and cannot abort the run of the others).
#[test]
fn playbooks_leave_other_inventory_hosts_alone() {
    let Some(playbook) = ansible_playbook() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = write_case("rich/app.srcs", tmp.path());
    let estate = tmp.path().join("estate.yml");
    std::fs::write(
        &estate,
        "all:\n  hosts:\n    estate1: {}\n  children:\n    edges:\n      hosts:\n        estate2: {}\n",
    )
    .unwrap();
    for pb in PLAYBOOKS {
        let o = Command::new(&playbook)
            .args(["--list-hosts", "-i", "inventory.yml", "-i"])
            .arg(&estate)
            .arg(pb)
            .current_dir(&out)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{pb}: {text}{}", String::from_utf8_lossy(&o.stderr));
        let mut hosts: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.contains("hosts ("))
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        hosts.sort_unstable();
        assert_eq!(hosts, ["en1", "en2", "w1"], "{pb}: {text}");
    }
}

/// Every item the generator writes in `vars/hadeploy.yml` holds the keys
/// the roles' argument specs declare (`hadeploy_codegen::inputs`), of their
/// type, the required ones at least: the specs Ansible checks the inputs
/// against are those the data is written to.
#[test]
fn the_data_written_is_what_the_argument_specs_declare() {
    use hadeploy_codegen::inputs::{Key, ROLES, Ty};
    fn check(at: &str, v: &serde_json::Value, ty: Ty) {
        let scalar = v.as_str();
        match ty {
            Ty::Str | Ty::Path => assert!(scalar.is_some(), "{at}: {v}"),
            Ty::Bool => assert!(matches!(scalar, Some("true" | "false")), "{at}: {v}"),
            Ty::Int => assert!(scalar.is_some_and(|s| s.parse::<u64>().is_ok()), "{at}: {v}"),
            Ty::Strs => assert!(
                v.as_array().is_some_and(|a| a.iter().all(|s| s.is_string())),
                "{at}: {v}"
            ),
            Ty::AnyItems => assert!(v.is_array(), "{at}: {v}"),
            Ty::AnyMap => assert!(v.is_object(), "{at}: {v}"),
            Ty::Items(keys) => {
                for (i, item) in v.as_array().unwrap_or_else(|| panic!("{at}: {v}")).iter().enumerate() {
                    map(&format!("{at}[{i}]"), item, keys);
                }
            }
            Ty::Map(keys) => map(at, v, keys),
        }
    }
    fn map(at: &str, v: &serde_json::Value, keys: &[Key]) {
        let m = v.as_object().unwrap_or_else(|| panic!("{at}: {v}"));
        for (k, value) in m {
            let key = keys
                .iter()
                .find(|d| d.name == k)
                .unwrap_or_else(|| panic!("{at}.{k} is not declared"));
            check(&format!("{at}.{k}"), value, key.ty);
            if !key.choices.is_empty() {
                assert!(key.choices.contains(&value.as_str().unwrap()), "{at}.{k}: {value}");
            }
        }
        for d in keys.iter().filter(|d| d.required) {
            assert!(m.contains_key(d.name), "{at} has no {}", d.name);
        }
    }
    let inputs: Vec<&Key> = ROLES
        .iter()
        .flat_map(|r| r.inputs())
        .chain(&hadeploy_codegen::inputs::PLUGIN_INPUTS)
        .collect();
    let mut seen = BTreeSet::new();
    for case in [
        "rich/app.srcs",
        "seed/simple/app.srcs",
        "seed/notify/app.srcs",
        "hadeploy-docs/files.srcs",
    ] {
        let project = project_of(&fixtures().join(case));
        let text = String::from_utf8(project["vars/hadeploy.yml"].as_bytes().unwrap().to_vec()).unwrap();
        let data = common::yaml_tree(&text);
        for (name, value) in data.as_object().unwrap() {
            let key = inputs
                .iter()
                .find(|k| k.name == name)
                .unwrap_or_else(|| panic!("{case}: {name} is not an input"));
            check(&format!("{case}: {name}"), value, key.ty);
            seen.insert(name.clone());
        }
    }
    // Every list input is written, but those the roles' defaults set from
    // another (`hadeploy_base_supervisors`).
    let lists: BTreeSet<String> = inputs
        .iter()
        .filter(|k| {
            (matches!(k.ty, Ty::Items(_)) && k.role_default.is_none())
                || hadeploy_codegen::inputs::PLUGIN_INPUTS.contains(k)
        })
        .map(|k| k.name.to_string())
        .collect();
    assert_eq!(seen, lists);
}

/// A description of `hosts` hosts in `racks` host groups, each group
/// running one supervisor with `programs` programs; `command` is program
/// p0_0's.
fn cluster(hosts: usize, racks: usize, programs: usize, command: &str) -> String {
    let mut d = String::from("hosts:\n");
    for h in 0..hosts {
        d.push_str(&format!(
            "- {{ name: h{h}, ssh_host: 10.0.{}.{} }}\n",
            h / 200,
            h % 200 + 1
        ));
    }
    d.push_str("host_groups:\n");
    for g in 0..racks {
        let members: Vec<String> = (0..hosts).filter(|h| h % racks == g).map(|h| format!("h{h}")).collect();
        d.push_str(&format!("- {{ name: rack{g}, hosts: [{}] }}\n", members.join(", ")));
    }
    d.push_str("users:\n- login: app\nsupervisors:\n");
    for g in 0..racks {
        d.push_str(&format!("- {{ name: sv{g}, scope: rack{g}, user: app, group: app }}\n"));
    }
    d.push_str("supervisor_programs:\n");
    for g in 0..racks {
        for p in 0..programs {
            let cmd = if g == 0 && p == 0 {
                command.to_string()
            } else {
                format!("/bin/sleep {}", 1000 + p)
            };
            d.push_str(&format!(
                "- {{ name: p{g}_{p}, supervisor: sv{g}, command: \"{cmd}\" }}\n"
            ));
        }
    }
    d
}

fn project_from(dir: &Path, text: &str) -> Project {
    let app = dir.join("app.yml");
    std::fs::write(&app, text).unwrap();
    let model = hadeploy_model::load(&[SrcArg::File(app)]).unwrap_or_else(|d| panic!("{d}"));
    render(&model, &Options::default()).unwrap()
}

fn changed_files(a: &Project, b: &Project) -> Vec<String> {
    a.keys()
        .chain(b.keys())
        .filter(|p| a.get(*p) != b.get(*p))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The roles' inputs are written once, not per host: on 100 hosts, a
/// program's new command changes its own file only, and a new host the
/// inventory only.
#[test]
fn a_one_command_change_on_a_hundred_hosts_changes_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    let before = project_from(tmp.path(), &cluster(100, 10, 5, "/bin/sleep 1000"));
    let after = project_from(tmp.path(), &cluster(100, 10, 5, "/bin/sleep 2000"));
    assert_eq!(
        changed_files(&before, &after),
        ["files/supervisors/sv0/programs/p0_0_prg.ini"]
    );
    let more = project_from(
        tmp.path(),
        &cluster(100, 10, 5, "/bin/sleep 1000")
            .replace("host_groups:\n", "- { name: h100, ssh_host: 10.0.9.9 }\nhost_groups:\n"),
    );
    assert_eq!(changed_files(&before, &more), ["inventory.yml"]);
}

/// What the roles deploy does not grow with the hosts: the same
/// applications on 60 or on 1,000 hosts give the same files, but the
/// inventory (and `forks`, at most 50, reached from 50 hosts).
#[test]
fn only_the_inventory_grows_with_the_hosts() {
    let tmp = tempfile::tempdir().unwrap();
    let few = project_from(tmp.path(), &cluster(60, 5, 20, "/bin/sleep 1000"));
    let many = project_from(tmp.path(), &cluster(1000, 5, 20, "/bin/sleep 1000"));
    assert_eq!(changed_files(&few, &many), ["inventory.yml"]);
}
