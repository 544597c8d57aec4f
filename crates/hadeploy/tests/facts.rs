//! A deploy gathers Ansible facts where what it renders reads them, or
//! where `force_setup` asks, and not otherwise (a no-change deploy keeps its
//! speed).

use std::path::Path;

mod common;

fn generate(dir: &Path, template: &str, hosts: &str) -> String {
    std::fs::write(dir.join("t.j2"), template).unwrap();
    std::fs::write(
        dir.join("app.yml"),
        format!(
            "{hosts}local_templates_folders: [\".\"]\nusers: [{{ login: tsup }}]\n\
             files:\n- {{ scope: all, src: \"tmpl://t.j2\", dest_folder: /opt/tsup, owner: tsup, group: tsup, mode: \"0644\" }}\n"
        ),
    )
    .unwrap();
    common::generate(dir);
    std::fs::read_to_string(dir.join("proj/deploy.yml")).unwrap()
}

#[test]
fn facts_are_gathered_only_where_they_are_read_or_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let plain = generate(dir, "{{ inventory_hostname }}\n", "hosts: [{ name: en1 }]\n");
    assert!(!plain.contains("ansible.builtin.setup"), "{plain}");

    let forced = generate(dir, "x\n", "hosts: [{ name: en1, force_setup: yes }, { name: en2 }]\n");
    assert!(
        forced.contains("ansible.builtin.setup:\n      when: hadeploy_force_setup | default(false)"),
        "{forced}"
    );
    let inventory = std::fs::read_to_string(dir.join("proj/inventory.yml")).unwrap();
    assert_eq!(
        inventory.matches("hadeploy_force_setup: true").count(),
        1,
        "{inventory}"
    );

    // HADeploy's getting-started template reads another host's facts.
    let reads = generate(
        dir,
        "{% for h in groups['all'] %}{{ hostvars[h]['ansible_fqdn'] }} {{ ansible_hostname }}\n{% endfor %}",
        "hosts: [{ name: en1 }]\n",
    );
    assert!(
        reads.contains("    - name: Gather facts\n      tags: [always]\n      ansible.builtin.setup:\n"),
        "{reads}"
    );
    assert!(!reads.contains("hadeploy_force_setup"), "{reads}");

    // And Ansible renders it, facts in hand (check mode, this machine).
    let Some(playbook) = common::venv_ansible_playbook() else {
        return;
    };
    let out = std::process::Command::new(&playbook)
        .current_dir(dir.join("proj"))
        .args([
            "deploy.yml",
            "--check",
            "--diff",
            "-c",
            "local",
            "--tags",
            "files",
            "-e",
        ])
        .arg(format!(
            "ansible_python_interpreter={}",
            playbook.with_file_name("python").display()
        ))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    let host = std::process::Command::new("hostname").output().unwrap();
    let host = String::from_utf8_lossy(&host.stdout).trim().to_string();
    assert!(said.contains(&format!(" {host}")), "{host}: {said}");
}
