//! No input becomes code that Ansible evaluates: Jinja that would run a
//! command on the controller is put into every string key of the format
//! (read from its table, not listed here), a key's comment, an inventory's
//! values, the environment and every command-line value; what loads is
//! generated and every playbook is run by Ansible, in check mode on a local
//! connection. The command never runs, while a `tmpl://` template, which is
//! Ansible's on purpose, does run its own.

use std::path::{Path, PathBuf};

use hadeploy_model::SrcArg;
use hadeploy_model::format::{Keys, SECTIONS, Ty};
use serde_json::{Value, json};

mod common;

/// The folder of the test venv's Ansible commands.
fn venv() -> Option<PathBuf> {
    common::venv_ansible_playbook().map(|p| p.with_file_name(""))
}

/// Jinja that creates `mark` when Ansible renders it, in each of Jinja's
/// forms.
fn payloads(mark: &Path) -> Vec<String> {
    let touch = format!("lookup('pipe', 'touch {}')", mark.display());
    vec![
        format!("{{{{ {touch} }}}}"),
        format!("x {{% if {touch} %}}{{% endif %}} y"),
        format!("{{# {{{{ {touch} }}}} #}}"),
        "a {# b".to_string(),
    ]
}

/// One valid item of each section with items, and the other files it names.
fn base() -> Value {
    json!({
        // A host that fails (its connection attributes hold the payloads)
        // leaves the others going.
        "exit_on_fail": false,
        "hosts": [{ "name": "en1" }],
        "ansible_inventories": [{ "file": "inv/hosts.yml" }],
        "host_groups": [{ "name": "edges", "hosts": ["en1"] }],
        "host_group_overrides": [{ "name": "edges", "hosts": ["en1", "en2"] }],
        "host_overrides": [{ "name": "en1" }],
        "local_templates_folders": ["."],
        "groups": [{ "name": "tgrp" }],
        "users": [{ "login": "tsup", "authorized_keys": ["k.pub"] }],
        "folders": [{ "scope": "all", "path": "/opt/tsup", "owner": "tsup", "group": "tsup", "mode": "0755" }],
        "files": [{ "scope": "all", "src": "tmpl://t.j2", "dest_folder": "/opt/tsup", "owner": "tsup", "group": "tsup", "mode": "0644" }],
        "supervisors": [{ "name": "tsupv", "scope": "all", "user": "tsup", "group": "tsup" }],
        "supervisor_programs": [{ "name": "p1", "supervisor": "tsupv", "command": "/bin/sleep 1" }],
        "supervisor_groups": [{ "name": "grp", "supervisor": "tsupv", "programs": ["p1"] }],
    })
}

/// Every place of the format a string is written: (section, key, nested
/// key), for the items' keys and the maps they hold.
fn string_keys() -> Vec<(&'static str, &'static str, Option<&'static str>)> {
    fn strings(keys: &'static Keys) -> impl Iterator<Item = &'static str> {
        keys.iter()
            .filter(|k| matches!(k.ty, Ty::Str | Ty::StrList | Ty::Environment))
            .map(|k| k.name)
    }
    let mut out = Vec::new();
    for s in SECTIONS {
        let Ty::Items(keys) = s.ty else { continue };
        out.extend(strings(keys).map(|k| (s.name, k, None)));
        for k in keys.iter() {
            if let Ty::Map(inner) = k.ty {
                out.extend(strings(inner).map(|i| (s.name, k.name, Some(i))));
            }
        }
    }
    out
}

fn with(desc: &mut Value, (section, key, inner): (&str, &str, Option<&str>), payload: &str) {
    let item = &mut desc[section][0];
    let value = if key == "environment" {
        json!({ "K": payload })
    } else {
        json!(payload)
    };
    match inner {
        None => item[key] = value,
        Some(inner) => {
            if !item[key].is_object() {
                item[key] = json!({});
            }
            item[key][inner] = value;
        }
    }
}

fn loads(dir: &Path, desc: &Value) -> bool {
    hadeploy_model::load(&[SrcArg::Text {
        path: dir.join("app.yml"),
        text: desc.to_string(),
    }])
    .is_ok()
}

#[test]
fn no_input_becomes_code_ansible_runs() {
    let Some(venv) = venv() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mark = dir.join("MARK");
    let control = dir.join("CONTROL");
    let payloads = payloads(&mark);
    // A key whose comment, an inventory's values, and a template of the
    // description that reads them.
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHo/XF8V6xKjc4VjqDYIa9KeoNHojcKKa13ZQrr1Ilcf";
    std::fs::write(dir.join("k.pub"), format!("{key} {}\n", payloads[0])).unwrap();
    std::fs::create_dir(dir.join("inv")).unwrap();
    let inv_vars: String = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| format!("      app_{i}: {}\n", json!(p)))
        .collect();
    std::fs::write(
        dir.join("inv/hosts.yml"),
        format!(
            "all:\n  hosts:\n    en2:\n      ansible_host: {}\n      ansible_user: {}\n{inv_vars}",
            json!(payloads[0]),
            json!(payloads[1])
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("t.j2"),
        format!(
            "{{{{ app_0 }}}} {{{{ app_1 }}}} {{{{ app_2 }}}} {{{{ app_3 }}}}\n{{{{ lookup('pipe', 'touch {}') }}}}\n",
            control.display()
        ),
    )
    .unwrap();

    // Each key with each payload alone: refused, or kept for the run.
    let mut desc = base();
    assert!(loads(dir, &desc), "the base description loads");
    let (mut kept, mut refused) = (Vec::new(), 0);
    let keys = string_keys();
    assert!(keys.len() > 60, "the format's string keys: {}", keys.len());
    for &place in &keys {
        for p in &payloads {
            let mut one = base();
            with(&mut one, place, p);
            if loads(dir, &one) {
                kept.push((place, p.clone()));
            } else {
                refused += 1;
            }
        }
    }
    // And as variables, which the project writes for Ansible.
    for (i, p) in payloads.iter().enumerate() {
        let mut one = base();
        one["vars"] = json!({ format!("v{i}"): p });
        if loads(dir, &one) {
            desc["vars"][format!("v{i}")] = json!(p);
        } else {
            refused += 1;
        }
    }
    // Keys that hold a name or a path refuse them; free text keeps them.
    assert!(
        !kept.is_empty() && refused > 0,
        "kept {}, refused {refused}",
        kept.len()
    );
    let mut dropped = 0;
    for (place, p) in &kept {
        // Keys that hold the same payload, or that another key constrains
        // (a program's `user` and its supervisor's), are tried alone above.
        let mut next = desc.clone();
        with(&mut next, *place, p);
        if loads(dir, &next) {
            desc = next;
        } else {
            dropped += 1;
        }
    }
    eprintln!(
        "{} placements kept, {refused} refused, {dropped} not combined",
        kept.len()
    );
    std::fs::write(dir.join("app.yml"), serde_json::to_string_pretty(&desc).unwrap()).unwrap();

    let path = format!("{}:{}", venv.display(), std::env::var("PATH").unwrap_or_default());
    let hadeploy = || {
        let mut cmd = assert_cmd::Command::cargo_bin("hadeploy").unwrap();
        cmd.current_dir(dir).env("NO_COLOR", "1").env("PATH", &path);
        cmd
    };
    // Command-line values: refused before anything runs.
    for p in &payloads {
        let out = hadeploy()
            .args(["generate", "--src", "app.yml", "--src"])
            .arg(format!("v={p}"))
            .args(["--out", "refused"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "--src v={p} was accepted");
        let out = hadeploy()
            .args(["--src", "app.yml", "--action", "logs", "--program", p])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--program {p}");
    }
    let out = hadeploy()
        .args(["generate", "--src", "app.yml", "--out", "proj"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let local = [
        "--check",
        "-c",
        "local",
        "-e",
        &format!("ansible_python_interpreter={}/python", venv.display()),
    ];
    for playbook in ["deploy.yml", "start.yml", "stop.yml", "remove.yml"] {
        let out = std::process::Command::new(venv.join("ansible-playbook"))
            .current_dir(dir.join("proj"))
            .arg(playbook)
            .args(local)
            .env("PATH", &path)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(!mark.exists(), "{playbook} ran a command of the inputs:\n{said}");
        if playbook == "deploy.yml" {
            // en1's connection attributes hold the payloads as written
            // (a `become_method` of `a {# b`): en2, from the inventory,
            // runs the whole deploy.
            assert!(said.contains("en2 ") && recap_ok(&said, "en2"), "{said}");
            assert!(control.exists(), "the template was not rendered:\n{said}");
        }
    }
    // The reports, through hadeploy: its variables come from the command
    // line and the environment (the temporary folder).
    let tmpdir = dir.join(&payloads[0]);
    std::fs::create_dir_all(&tmpdir).unwrap();
    for action in ["status", "logs"] {
        let out = hadeploy()
            .env("TMPDIR", &tmpdir)
            .args(["--src", "app.yml", "--workingFolder", "proj", "--action", action, "--"])
            .args(local)
            .output()
            .unwrap();
        assert!(
            !mark.exists(),
            "{action} ran a command:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_ne!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Whether the play's recap says `host` failed nothing.
fn recap_ok(said: &str, host: &str) -> bool {
    said.lines()
        .filter(|l| l.starts_with(&format!("{host} ")))
        .any(|l| l.contains("failed=0") && l.contains("unreachable=0"))
}
