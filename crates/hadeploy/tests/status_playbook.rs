//! `status.yml` run without hadeploy (ansible-runner, AWX) fails for a
//! host whose status could not be read, saying why, and for no other; run
//! by hadeploy, which reads the reports itself (exit 4 or 5), it does not.

mod common;

#[test]
fn status_yml_alone_fails_for_a_host_that_does_not_answer() {
    let Some(playbook) = common::venv_ansible_playbook() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Nothing listens on port 1: the host is unreachable at once.
    std::fs::write(
        dir.join("app.yml"),
        "hosts: [{ name: en1, ssh_host: 127.0.0.1, ssh_port: 1, ssh_user: nobody }]\n\
         supervisors: [{ name: sv, scope: all, user: u, group: g }]\n",
    )
    .unwrap();
    common::generate(dir);
    let run = |extra: &[&str]| {
        std::process::Command::new(&playbook)
            .current_dir(dir.join("proj"))
            .arg("status.yml")
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("Fail where the status could not be read") && said.contains("fatal: [en1]"),
        "{said}"
    );
    // A host that answers (this machine): nothing fails.
    let python = format!(
        "ansible_python_interpreter={}",
        playbook.with_file_name("python").display()
    );
    let out = run(&["-c", "local", "-e", &python]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let reports = dir.join("reports");
    std::fs::create_dir(&reports).unwrap();
    let out = run(&["-e", &format!("hadeploy_supervisor_status_dir={}", reports.display())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(reports.join("en1.json").exists());
}
