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

/// The same inventory in Ansible's YAML format.
const YAML_INVENTORY: &str = r#"# as Ansible's YAML inventories write it
all:
  vars:
    tier: everywhere
    zone: eu
  hosts:
    en1:
      ansible_host: 10.0.0.1
      ansible_ssh_common_args: -o StrictHostKeyChecking=no
      note: two words
    en2: { ansible_host: 10.0.0.2, path: /opt/my app, ratio: 3, empty: "" }
  children:
    edges:
      hosts:
        en1:
        en2:
        web[01:03]: { ansible_host: 10.0.1.1, role: web }
        db-[a:b]:2222: { ansible_host: 10.0.2.1 }
      vars: { greeting: "hello, world", mode: fast lane, plain: "a b c", list: [1, two] }
    site:
      children:
        front:
          hosts:
            web[01:02]:
          vars: { tier: front }
        back:
          hosts:
            db-[a:b]:
      vars: { greeting: from site, tier: site }
"#;

/// Reads inventories with `ansible-inventory`, as the command line does.
struct Ansible(PathBuf);

impl hadeploy_model::InventoryLister for Ansible {
    fn list(&self, file: &std::path::Path) -> hadeploy_model::Listed {
        let out = Command::new(&self.0)
            .arg("-i")
            .arg(file)
            .arg("--list")
            .env("ANSIBLE_INVENTORY_ENABLED", "ini,yaml")
            .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "True")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        hadeploy_model::Listed::Json(out.stdout)
    }
}

/// The model of a description naming `file`, read by the built-in
/// readers and by Ansible.
fn both(dir: &std::path::Path, file: &str, bin: PathBuf) -> (hadeploy_model::Model, hadeploy_model::Model) {
    let srcs = [SrcArg::Text {
        path: dir.join("app.yml"),
        text: format!("ansible_inventories: [{{ file: {file} }}]\n"),
    }];
    let builtin = hadeploy_model::load(&srcs).unwrap_or_else(|d| panic!("{d}"));
    let lister = Ansible(bin);
    let opts = hadeploy_model::LoadOptions {
        inventories: Some(&lister),
        ..Default::default()
    };
    let ansible = hadeploy_model::load_with(&srcs, &opts).unwrap_or_else(|d| panic!("{d}"));
    (builtin, ansible)
}

#[test]
fn the_built_in_readers_read_what_ansible_inventory_reads() {
    let Some(bin) = ansible_inventory() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hosts.ini"), INVENTORY).unwrap();
    std::fs::write(dir.path().join("hosts.yml"), YAML_INVENTORY).unwrap();
    let (ini, ini_ansible) = both(dir.path(), "hosts.ini", bin.clone());
    let (yaml, yaml_ansible) = both(dir.path(), "hosts.yml", bin);
    assert_eq!(ini.hosts.len(), 7, "{:?}", ini.hosts.keys().collect::<Vec<_>>());
    assert_eq!(ini.hosts, ini_ansible.hosts, "INI: the built-in reader and Ansible");
    assert_eq!(ini.host_groups, ini_ansible.host_groups);
    assert_eq!(yaml.hosts, yaml_ansible.hosts, "YAML: the built-in reader and Ansible");
    assert_eq!(yaml.host_groups, yaml_ansible.host_groups);
    // Each read as Ansible types it: a Python literal in INI, YAML's types.
    let en2 = &ini.hosts["en2"];
    assert_eq!(en2.ansible_vars["ratio"], serde_json::json!(3));
    assert_eq!(en2.ansible_vars["path"], "/opt/my app");
    assert_eq!(ini.hosts["db-a"].ssh_port, Some(2222));
    assert_eq!(ini.hosts["web01"].ansible_vars["tier"], "front");
    assert_eq!(yaml.hosts["web01"].ansible_vars["tier"], "front");
    assert_eq!(yaml.hosts["en1"].ansible_vars["list"], serde_json::json!([1, "two"]));
}
