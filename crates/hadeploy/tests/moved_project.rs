//! A generated project runs from another working folder than its own, and
//! one moved away from an ssh key it names by a relative path fails before
//! ssh tries a host, naming the key.

use std::path::Path;

mod common;

/// status.yml of `project` run from `cwd`, its `always` tasks only.
fn always_tasks(playbook: &Path, cwd: &Path, project: &Path) -> (bool, String) {
    let (inventory, status) = (project.join("inventory.yml"), project.join("status.yml"));
    let args = [std::ffi::OsStr::new("-i"), inventory.as_os_str(), status.as_os_str()];
    common::always_tasks(playbook, cwd, &args)
}

#[test]
fn a_relative_key_is_found_from_any_folder_and_a_missing_one_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/root_id"), "not read here\n").unwrap();
    std::fs::write(
        dir.join("app.yml"),
        "hosts: [{ name: en1, ssh_host: 192.0.2.1, ssh_private_key_file: keys/root_id }]\n\
         users: [{ login: tsup }]\n",
    )
    .unwrap();
    common::generate(dir);
    let inventory = std::fs::read_to_string(dir.join("proj/inventory.yml")).unwrap();
    assert!(
        inventory.contains("ansible_ssh_private_key_file: \"{{ playbook_dir }}/../keys/root_id\""),
        "{inventory}"
    );
    let Some(playbook) = common::venv_ansible_playbook() else {
        return;
    };
    let (ok, text) = always_tasks(&playbook, Path::new("/"), &dir.join("proj"));
    assert!(ok, "run from /: {text}");
    assert!(text.contains("TASK [Check the ssh key files]"), "{text}");

    // Moved one folder down: ../keys is no longer beside it.
    std::fs::create_dir(dir.join("elsewhere")).unwrap();
    std::fs::rename(dir.join("proj"), dir.join("elsewhere/proj")).unwrap();
    let moved = dir.join("elsewhere/proj");
    let (ok, text) = always_tasks(&playbook, &moved, &moved);
    assert!(!ok, "{text}");
    let missing = format!("{}/../keys/root_id of en1", moved.display());
    assert!(
        text.contains(&format!("the ssh key file {missing}")) && text.contains("is not on this machine"),
        "{text}"
    );
    assert!(!text.contains("UNREACHABLE"), "ssh was tried: {text}");
}
