//! The generated playbooks check the roles' inputs against their argument
//! specs once for the play, on the controller, in place of Ansible's check
//! on each role's entry, run for each host and role.

use std::ffi::OsStr;
use std::path::Path;

mod common;

/// status.yml of the project in `dir`, its `always` tasks only, every host
/// local, and `extra` as extra vars.
fn always_tasks(playbook: &Path, dir: &Path, extra: &str) -> (bool, String) {
    let args = ["status.yml", "-e", "ansible_connection=local", "-e", extra].map(OsStr::new);
    common::always_tasks(playbook, &dir.join("proj"), &args)
}

#[test]
fn inputs_are_checked_once_for_the_play_not_for_each_host() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("app.yml"),
        "hosts: [{ name: en1, ssh_host: 127.0.0.1 }, { name: en2, ssh_host: 127.0.0.1 }]\n\
         host_groups: [{ name: all_hosts, hosts: [en1, en2] }]\n\
         users: [{ login: tsup }]\n\
         supervisors: [{ name: tsupv, user: tsup, group: tsup, scope: all_hosts }]\n",
    )
    .unwrap();
    common::generate(dir);
    let Some(playbook) = common::venv_ansible_playbook() else {
        return;
    };
    let (ok, text) = always_tasks(&playbook, dir, "{}");
    assert!(ok, "{text}");
    assert_eq!(text.matches("TASK [Check the roles' inputs]").count(), 1, "{text}");
    assert!(
        !text.contains("Validating arguments against arg spec"),
        "checked per host: {text}"
    );

    // An instance without its socket and with a state of no choice.
    let bad = r#"{"hadeploy_supervisor_instances": [{"name": "tsupv", "state": "running"}]}"#;
    let (ok, text) = always_tasks(&playbook, dir, bad);
    assert!(!ok, "{text}");
    let said = "Validation of the roles' inputs failed: hadeploy_supervisor, entry point status: ";
    assert_eq!(text.matches(said).count(), 1, "once, for both hosts: {text}");
    assert!(text.contains("socket") && text.contains("got: running"), "{text}");
    // No host goes on: the roles' tasks (their first is tagged always) do
    // not run.
    let after = &text[text.find("TASK [Check the roles' inputs]").unwrap() + 1..];
    assert!(!after.contains("TASK ["), "a host went on: {text}");
}
