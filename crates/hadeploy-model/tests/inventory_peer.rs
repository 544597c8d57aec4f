//! INI inventories read as Ansible reads them: the variables hadeploy finds
//! for each host are those `ansible-inventory --list` prints (ansible-core
//! from the test venv, `tests/setup-venv.sh`).

use std::path::PathBuf;
use std::process::Command;

use hadeploy_model::SrcArg;

fn ansible_inventory() -> Option<PathBuf> {
    let bin = PathBuf::from("/var/tmp/hadeploy-venv/bin/ansible-inventory");
    if bin.exists() {
        return Some(bin);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide /var/tmp/hadeploy-venv"
    );
    eprintln!("SKIPPED: no ansible-inventory in /var/tmp/hadeploy-venv (bash tests/setup-venv.sh)");
    None
}

const INVENTORY: &str = r#"# quoting as Ansible's INI inventories write it
en1 ansible_host=10.0.0.1 ansible_ssh_common_args='-o StrictHostKeyChecking=no' note="two words" # comment
en2 ansible_host=10.0.0.2 path='/opt/my app' ratio=3 empty=''
[edges]
en1
en2
web[01:03] ansible_host=10.0.1.1 role=web
db-[a:b]:2222 ansible_host=10.0.2.1
[edges:vars]
greeting = "hello, world"
mode = 'fast lane'
plain = a b c
[front]
web[01:02]
[back]
db-[a:b]
[site:children]
front
back
[site:vars]
greeting = from site
tier = site
[front:vars]
tier = front
[all:vars]
tier = everywhere
zone = eu
"#;

#[test]
fn host_variables_are_those_ansible_inventory_reads() {
    let Some(bin) = ansible_inventory() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("hosts.ini");
    std::fs::write(&ini, INVENTORY).unwrap();
    let out = Command::new(bin)
        .arg("-i")
        .arg(&ini)
        .arg("--list")
        .env("ANSIBLE_INVENTORY_ENABLED", "ini")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ansible: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let model = hadeploy_model::load(&[SrcArg::Text {
        path: dir.path().join("app.yml"),
        text: "ansible_inventories: [{ file: hosts.ini }]\n".into(),
    }])
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(model.hosts.len(), 7, "{:?}", model.hosts.keys().collect::<Vec<_>>());
    for (name, host) in &model.hosts {
        let vars = ansible["_meta"]["hostvars"][name].as_object().unwrap();
        let mut ours = host.ansible_vars.clone();
        ours.insert("ansible_host".into(), host.ssh_host.clone().unwrap());
        if let Some(a) = &host.ssh_common_args {
            ours.insert("ansible_ssh_common_args".into(), a.clone());
        }
        if let Some(p) = host.ssh_port {
            ours.insert("ansible_port".into(), p.to_string());
        }
        let theirs: indexmap::IndexMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect();
        let mut ours: Vec<_> = ours.into_iter().collect();
        let mut theirs: Vec<_> = theirs.into_iter().collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "host {name}");
    }
}
