//! Helpers shared by the integration tests of the binary.

use std::path::PathBuf;

/// The test venv's `ansible-playbook` (`tests/setup-venv.sh`), whose
/// `ansible-inventory` and `ansible-vault` sit beside it; `None`, with a
/// message, where it is missing outside CI.
#[allow(dead_code)]
pub fn venv_ansible_playbook() -> Option<PathBuf> {
    let bin = PathBuf::from("/var/tmp/hadeploy-venv/bin/ansible-playbook");
    if bin.exists() {
        return Some(bin);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide /var/tmp/hadeploy-venv"
    );
    eprintln!("SKIPPED: no /var/tmp/hadeploy-venv (bash tests/setup-venv.sh)");
    None
}

/// `hadeploy generate --src app.yml --out proj` in `dir`, which must succeed.
#[allow(dead_code)]
pub fn generate(dir: &std::path::Path) {
    let out = assert_cmd::Command::cargo_bin("hadeploy")
        .unwrap()
        .current_dir(dir)
        .args(["generate", "--src", "app.yml", "--out", "proj"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `ansible-playbook` (`playbook`) run in `cwd` with `args` and the tags no
/// task has: only the checks and reads tagged `always` run, on this
/// machine. Whether it succeeded, and its output.
#[allow(dead_code)]
pub fn always_tasks(playbook: &std::path::Path, cwd: &std::path::Path, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = std::process::Command::new(playbook)
        .current_dir(cwd)
        .args(args)
        .args(["--tags", "hadeploy-no-such-tag"])
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}
