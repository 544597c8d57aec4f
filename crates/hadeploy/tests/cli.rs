//! The `hadeploy` binary, driven as a user drives it.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

mod common;
use common::venv_ansible_playbook;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn hadeploy(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("hadeploy").unwrap();
    cmd.current_dir(dir).env("NO_COLOR", "1");
    cmd
}

#[test]
fn help_lists_the_compatible_form_and_subcommands() {
    let out = hadeploy(&fixtures()).arg("--help").output().unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn action_none_accepts_the_seed_simple_case() {
    let dir = fixtures().join("seed/simple");
    let tmp = tempfile::tempdir().unwrap();
    let out = hadeploy(&dir)
        .args(["--src", "app.yml", "--action", "none", "--workingFolder"])
        .arg(tmp.path().join("work"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The key is named from the project's playbooks, wherever Ansible runs.
    let inventory = std::fs::read_to_string(tmp.path().join("work/inventory.yml")).unwrap();
    let key = inventory
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("ansible_ssh_private_key_file: \"{{ playbook_dir }}/")
        })
        .unwrap_or_else(|| panic!("{inventory}"));
    let key = tmp.path().join("work").join(key.trim_matches('"'));
    assert_eq!(
        key.canonicalize().unwrap(),
        dir.join("keys/root_id").canonicalize().unwrap()
    );
}

#[test]
fn split_descriptions_load_from_several_sources() {
    let dir = fixtures().join("seed/improved");
    let out = hadeploy(&dir)
        .args(["dump", "--src", "mycluster.yml", "--src", "app.yml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(model["hosts"]["en1"]["ssh_user"], "tsup");
    assert_eq!(model["supervisors"][0]["managed"], false);
}

#[test]
fn every_bad_fixture_fails_with_its_message_and_writes_nothing() {
    let dir = fixtures().join("errors");
    let before = std::fs::read_dir(&dir).unwrap().count();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let out = hadeploy(&dir)
            .args(["--src", &name, "--action", "none"])
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.starts_with("error: "), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("--> {name}:")),
            "{name} names its file and line: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{name}");
    }
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        before,
        "no output folder appears"
    );
}

#[test]
fn action_none_writes_the_project_in_the_working_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let app = fixtures().join("seed/simple/app.yml");
    let out = hadeploy(tmp.path())
        .arg("--src")
        .arg(&app)
        .args(["--action", "none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let work = tmp.path().join("hadeploy-work");
    for file in [
        "ansible.cfg",
        "inventory.yml",
        "deploy.yml",
        "remove.yml",
        "start.yml",
        "stop.yml",
        "status.yml",
    ] {
        assert!(work.join(file).is_file(), "{file} is generated");
    }
    // A second run regenerates the folder it created.
    let again = hadeploy(tmp.path())
        .arg("--src")
        .arg(&app)
        .args(["--action", "none"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
}

#[test]
fn a_folder_the_tool_did_not_create_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious.txt"), "keep me").unwrap();
    let out = hadeploy(tmp.path())
        .arg("--src")
        .arg(fixtures().join("seed/simple/app.yml"))
        .args(["--action", "none", "--workingFolder", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("precious.txt")).unwrap(),
        "keep me"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn actions_run_ansible_playbook_with_extra_arguments_and_return_its_status() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = fake_ansible_playbook(tmp.path(), "echo \"ran $*\" > ../ran.txt\nexit 4\n");
    let out = hadeploy(tmp.path())
        .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
        .arg("--src")
        .arg(fixtures().join("seed/simple/app.yml"))
        .args(["--action", "stop", "--", "--limit", "en1", "--check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let ran = std::fs::read_to_string(tmp.path().join("ran.txt")).unwrap();
    assert_eq!(ran, "ran stop.yml --limit en1 --check\n");
}

/// Sends `signal` (`TERM`, `INT`, `HUP`) to process `pid` with kill(1).
fn send_signal(signal: &str, pid: u32) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} {pid}");
}

/// Waits up to 20 s for `path` to exist.
fn wait_for_file(path: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Stopping hadeploy (Ctrl-C, `kill`, a closed terminal, a CI timeout) stops
/// the deployment: ansible-playbook gets the signal, and hadeploy only
/// returns once it has ended. `kill PID` of hadeploy alone once left
/// ansible-playbook deploying on its own.
#[test]
fn a_signal_to_hadeploy_stops_ansible_playbook_and_waits_for_it() {
    for (signal, passed_on, code) in [("TERM", "TERM", 143), ("INT", "INT", 130), ("HUP", "TERM", 129)] {
        let tmp = tempfile::tempdir().unwrap();
        // Records its pid, then waits; on a signal, says which and ends
        // after a moment, as ansible-playbook ends its tasks.
        let fake = fake_ansible_playbook(
            tmp.path(),
            "sleep 60 & s=$!\n\
             for sig in TERM INT HUP; do trap \"kill \\$s; sleep 1; echo $sig > ../got.txt; exit 9\" $sig; done\n\
             echo $$ > ../pid.tmp && mv ../pid.tmp ../pid.txt\n\
             wait $s\n",
        );
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hadeploy"))
            .current_dir(tmp.path())
            .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
            .arg("--src")
            .arg(fixtures().join("seed/simple/app.yml"))
            .args(["--action", "deploy"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid_file = tmp.path().join("pid.txt");
        wait_for_file(&pid_file);
        let fake_pid: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        send_signal(signal, child.id());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // hadeploy waited for ansible-playbook: its last word is written.
        let got = std::fs::read_to_string(tmp.path().join("got.txt"))
            .unwrap_or_else(|_| panic!("SIG{signal}: ansible-playbook was not told to stop; {stderr}"));
        assert_eq!(got.trim(), passed_on, "SIG{signal}");
        assert_eq!(out.status.code(), Some(code), "SIG{signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "SIG{signal}: {stderr}");
        let alive = std::process::Command::new("kill")
            .args(["-0", &fake_pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(!alive, "SIG{signal}: ansible-playbook ({fake_pid}) still runs");
    }
}

#[test]
fn a_missing_ansible_playbook_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = hadeploy(tmp.path())
        .env("HADEPLOY_ANSIBLE_PLAYBOOK", "/nonexistent/ansible-playbook")
        .arg("--src")
        .arg(fixtures().join("seed/simple/app.yml"))
        .args(["--action", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(i32::from(hadeploy::EXIT_NO_ANSIBLE)));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("cannot run `/nonexistent/ansible-playbook`"),
        "{stderr}"
    );
    assert!(stderr.contains("help: install Ansible"), "{stderr}");
}

#[test]
fn missing_source_file_is_a_clear_error() {
    let out = hadeploy(&fixtures())
        .args(["--src", "nope.yml", "--action", "none"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(String::from_utf8(out.stderr).unwrap(), @r"
    error: cannot read `nope.yml`: no such file

    error: the description has 1 error
    ");
}

#[test]
fn usage_errors_exit_2() {
    let out = hadeploy(&fixtures()).args(["--action", "deploy"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn generate_check_passes_when_up_to_date_and_shows_a_diff_when_not() {
    let dir = fixtures().join("seed/simple");
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let generate = |extra: &[&str]| {
        hadeploy(&dir)
            .args(["generate", "--src", "app.yml", "--out"])
            .arg(&work)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = generate(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(work.join("inventory.yml").is_file());

    let out = generate(&["--check"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());

    // A hand edit of a generated file: the diff names it, and nothing is written.
    let inventory = work.join("inventory.yml");
    let original = std::fs::read_to_string(&inventory).unwrap();
    let edited = original.replace("ansible_user: \"root\"", "ansible_user: \"admin\"");
    assert_ne!(edited, original);
    std::fs::write(&inventory, &edited).unwrap();
    let out = generate(&["--check"]);
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8(out.stdout).unwrap();
    let shown = format!("{}/inventory.yml", work.display());
    assert!(diff.contains(&format!("--- {shown}\t(in the folder)")), "{diff}");
    assert!(diff.contains(&format!("+++ {shown}\t(generated)")), "{diff}");
    assert!(diff.contains("\n-      ansible_user: \"admin\"\n"), "{diff}");
    assert!(diff.contains("\n+      ansible_user: \"root\"\n"), "{diff}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("1 file differs"), "{stderr}");
    assert!(stderr.contains("~ inventory.yml"), "{stderr}");
    assert!(
        stderr.contains("help: regenerate it with `hadeploy generate --src app.yml --out"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&inventory).unwrap(), edited);

    // A change of the description: a folder more.
    assert!(generate(&[]).status.success());
    let extra = tmp.path().join("extra.yml");
    std::fs::write(
        &extra,
        "folders:\n- { path: /opt/extra, owner: tsup, group: tsup, mode: \"0700\" }\n",
    )
    .unwrap();
    let out = hadeploy(&dir)
        .args(["generate", "--src", "app.yml", "--src"])
        .arg(&extra)
        .arg("--out")
        .arg(&work)
        .arg("--check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(diff.contains("+  - path: \"/opt/extra\""), "{diff}");
    assert!(String::from_utf8(out.stderr).unwrap().contains("~ vars/hadeploy.yml"));
}

#[test]
fn generate_writes_what_action_none_writes() {
    let dir = fixtures().join("seed/simple");
    let tmp = tempfile::tempdir().unwrap();
    let out = hadeploy(&dir)
        .args(["--src", "app.yml", "--action", "none", "--workingFolder"])
        .arg(tmp.path().join("work"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = hadeploy(&dir)
        .args(["generate", "--src", "app.yml", "--check", "--out"])
        .arg(tmp.path().join("work"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn generate_check_reports_a_missing_folder_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = hadeploy(tmp.path())
        .arg("generate")
        .arg("--src")
        .arg(fixtures().join("seed/simple/app.yml"))
        .arg("--check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("--- /dev/null\n+++ hadeploy-work/deploy.yml\t(generated)\n"),
        "{stdout}"
    );
    assert!(!tmp.path().join("hadeploy-work").exists());
}

#[test]
fn schema_prints_the_json_schema_of_the_description() {
    let out = hadeploy(&fixtures()).arg("schema").output().unwrap();
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema, hadeploy_model::json_schema());
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn completions_come_from_the_command_line_definition() {
    let out = hadeploy(&fixtures()).args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    for word in ["--src", "--action", "--workingFolder", "generate", "deploy"] {
        assert!(script.contains(word), "{word} is completed");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = hadeploy(&fixtures()).args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
}

#[test]
fn man_pages_come_from_the_command_line_definition() {
    let out = hadeploy(&fixtures()).arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH hadeploy 1"), "{page}");
    // roff escapes each `-` of an option.
    assert!(page.contains(r"\-\-workingFolder"), "{page}");
    assert!(page.contains("hadeploy\\-generate(1)"), "{page}");

    let out = hadeploy(&fixtures()).args(["man", "generate"]).output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH hadeploy-generate 1"), "{page}");
    assert!(page.contains(r"\-\-check"), "{page}");

    let out = hadeploy(&fixtures()).args(["man", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn errors_are_plain_without_a_terminal_and_coloured_when_forced() {
    let dir = fixtures().join("errors");
    let run = |envs: &[(&str, &str)]| {
        let mut cmd = Command::cargo_bin("hadeploy").unwrap();
        cmd.current_dir(&dir)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd
            .args(["--src", "unknown_key.yml", "--action", "none"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(!run(&[]).contains('\x1b'));
    assert!(run(&[("CLICOLOR_FORCE", "1")]).contains("\x1b["));
    assert!(!run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains('\x1b'));
}

#[test]
fn scopes_select_areas_through_ansible_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = fake_ansible_playbook(tmp.path(), "echo \"$*\" > ../ran.txt\n");
    let out = hadeploy(tmp.path())
        .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
        .arg("--src")
        .arg(fixtures().join("seed/simple/app.yml"))
        .args([
            "--action",
            "deploy",
            "--scope",
            "supervisor",
            "--scope",
            "files",
            "--noScope",
            "users",
            "--",
            "-v",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ran = std::fs::read_to_string(tmp.path().join("ran.txt")).unwrap();
    assert_eq!(ran, "deploy.yml --tags supervisor,files --skip-tags users -v\n");
    let deploy = std::fs::read_to_string(tmp.path().join("hadeploy-work/deploy.yml")).unwrap();
    assert!(deploy.contains("tags: [supervisor]"), "{deploy}");
    let run = |args: &[&str]| {
        let out = hadeploy(tmp.path())
            .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
            .arg("--src")
            .arg(fixtures().join("seed/simple/app.yml"))
            .args(["--action", "deploy"])
            .args(args)
            .output()
            .unwrap();
        let ran = std::fs::read_to_string(tmp.path().join("ran.txt")).unwrap_or_default();
        let _ = std::fs::remove_file(tmp.path().join("ran.txt"));
        (
            out.status.code(),
            ran,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // HADeploy's comma lists, and its other plugins' scopes: a warning.
    let (code, ran, _) = run(&["--scope", "files,supervisor", "--noScope", "users,none"]);
    assert_eq!(
        (code, ran.as_str()),
        (Some(0), "deploy.yml --tags files,supervisor --skip-tags users\n")
    );
    let (code, ran, err) = run(&["--scope", "hdfs"]);
    assert_eq!((code, ran.as_str()), (Some(0), "deploy.yml --tags never\n"));
    assert!(
        err.contains("warning: scope `hdfs` belongs to another HADeploy plugin"),
        "{err}"
    );
    let (code, ran, _) = run(&["--scope", "none"]);
    assert_eq!((code, ran.as_str()), (Some(0), "deploy.yml --tags never\n"));
    let (code, ran, err) = run(&["--scope", "hdfsx"]);
    assert_eq!((code, ran.as_str()), (Some(2), ""));
    assert!(err.contains("`hdfsx` is not a scope"), "{err}");
}

/// `included_scopes` and `excluded_scopes` of the description, as HADeploy
/// combined them with the command line: `--scope` replaces the first,
/// `--noScope` adds to the second.
#[test]
fn the_description_scopes_combine_with_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = fake_ansible_playbook(tmp.path(), "echo \"$*\" > ../ran.txt\n");
    std::fs::write(
        tmp.path().join("scopes.yml"),
        "included_scopes: [files, supervisor]\nexcluded_scopes: [supervisor, kafka]\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = hadeploy(tmp.path())
            .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
            .arg("--src")
            .arg(fixtures().join("seed/simple/app.yml"))
            .args(["--src", "scopes.yml", "--action", "deploy"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(tmp.path().join("ran.txt")).unwrap()
    };
    assert_eq!(run(&[]), "deploy.yml --tags files,supervisor --skip-tags supervisor\n");
    assert_eq!(
        run(&["--scope", "users", "--noScope", "files"]),
        "deploy.yml --tags users --skip-tags files,supervisor\n"
    );
}

/// HADeploy's other options: `--src a b`, `--var`, the vault password and
/// verbosity, `--action dumpvars`, `--version`.
#[test]
fn hadeploy_options_are_understood() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = fake_ansible_playbook(tmp.path(), "echo \"$*\" > ../ran.txt\n");
    std::fs::write(
        tmp.path().join("vars.yml"),
        "vars:\n  port: 9090\n  web: { host: a, tags: [x, z] }\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("pass.txt"), "secret\n").unwrap();
    let app = fixtures().join("seed/simple/app.yml");
    let out = hadeploy(tmp.path())
        .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
        .arg("--src")
        .arg(&app)
        .arg("vars.yml")
        .args([
            "--var",
            "env=prod",
            "--action",
            "deploy",
            "--vaultPasswordFile",
            "pass.txt",
            "--askVaultPassword",
            "--vv",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ran = std::fs::read_to_string(tmp.path().join("ran.txt")).unwrap();
    let pass = tmp.path().join("pass.txt").canonicalize().unwrap();
    assert_eq!(
        ran,
        format!(
            "deploy.yml --ask-vault-pass --vault-password-file {} -vv\n",
            pass.display()
        )
    );
    let out = hadeploy(tmp.path())
        .args(["--src", "vars.yml", "--var", "env=prod", "--action", "dumpvars"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "---\nenv: \"prod\"   (<command line>)\nport: 9090   (vars.yml)\nweb: {\"host\":\"a\",\"tags\":[\"x\",\"z\"]}   (vars.yml)\n---\n"
    );
    let out = hadeploy(tmp.path()).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("hadeploy "));
}

/// A fake `ansible-playbook` that does what the status playbook's last task
/// does: copies the host documents of `status/` (as a real run on test hosts
/// wrote them) into the folder named by `hadeploy_supervisor_status_dir`, printing
/// Ansible-like output and recording its arguments.
fn fake_status_playbook(dir: &Path) -> PathBuf {
    let status = dir.join("status");
    std::fs::create_dir(&status).unwrap();
    std::fs::write(
        status.join("en1.json"),
        r#"{"reachable": true, "error": null, "supervisors": {"tsupv": {"managed": true,
            "service": {"unit": "supervisord_tsupv.service", "state": "running", "enabled": true},
            "running": true, "error": null, "programs": {
              "program1": {"state": "RUNNING", "pid": 772, "uptime": "0:00:47", "uptime_seconds": 47,
                           "description": "pid 772, uptime 0:00:47"}}}}}"#,
    )
    .unwrap();
    std::fs::write(
        status.join("en2.json"),
        r#"{"reachable": false, "error": "Task failed: Failed to connect to the host via ssh: ssh: connect to host 10.231.0.19 port 22: No route to host", "supervisors": {}}"#,
    )
    .unwrap();
    fake_ansible_playbook(
        dir,
        "echo 'PLAY RECAP ********'\n\
         echo \"$*\" > ../ran.txt\n\
         cat \"${3#@}\" >> ../ran.txt\n\
         out=$(sed -n 's/^{\"hadeploy_supervisor_status_dir\": \"\\(.*\\)\"}$/\\1/p' \"${3#@}\")\n\
         cp ../status/*.json \"$out\"/\n",
    )
}

#[test]
fn status_reports_every_host_as_a_table_or_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = fake_status_playbook(tmp.path());
    let status = |format: &[&str]| {
        hadeploy(tmp.path())
            .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
            .arg("--src")
            .arg(fixtures().join("seed/simple/app.yml"))
            .args(["--action", "status"])
            .args(format)
            .args(["--", "--limit", "en1:en2"])
            .output()
            .unwrap()
    };

    let out = status(&["--format", "json"]);
    // en2 could not be reached: ansible-playbook's code for that.
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("error: unreachable: en2"), "{stderr}");
    // Quiet: Ansible's output is shown only when ansible-playbook fails.
    assert!(!stderr.contains("PLAY RECAP"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hosts: Vec<&String> = report.as_object().unwrap().keys().collect();
    assert_eq!(hosts, ["en1", "en2"]);
    assert_eq!(
        report["en1"]["supervisors"]["tsupv"]["programs"]["program1"]["pid"],
        772
    );
    assert_eq!(report["en2"]["reachable"], false);
    let ran = std::fs::read_to_string(tmp.path().join("ran.txt")).unwrap();
    // The variables, in a file of data in the temporary folder.
    let dir = ran
        .split(['@', ' '])
        .nth(3)
        .unwrap()
        .trim_end_matches("/extra-vars.yml");
    assert!(dir.contains("hadeploy-report-"), "{ran}");
    assert_eq!(
        ran,
        format!(
            "status.yml --extra-vars @{dir}/extra-vars.yml --limit en1:en2\n{{\"hadeploy_supervisor_status_dir\": \"{dir}\"}}\n"
        )
    );
    assert!(!Path::new(dir).exists(), "the temporary folder is removed");

    let out = status(&[]);
    assert_eq!(out.status.code(), Some(4));
    // Ansible's output goes to standard error, the table alone to standard output.
    assert!(String::from_utf8_lossy(&out.stderr).contains("PLAY RECAP"));
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap(), @r"
    en1
      tsupv: service supervisord_tsupv.service running, enabled
        program1  RUNNING  pid 772  uptime 0:00:47
    en2: unreachable: Task failed: Failed to connect to the host via ssh: ssh: connect to host 10.231.0.19 port 22: No route to host
    ");
}

/// `--action plan` runs plan.yml with the folder each host writes its
/// answer to, prints the changes as a table or JSON, and exits as
/// `terraform plan -detailed-exitcode`: 0 when no host would change, 2
/// when one would, 1 when the plan could not be made (here: ansible-playbook
/// failed for a host, which wrote nothing).
#[test]
fn plan_exits_0_without_changes_2_with_some_and_1_on_error() {
    let tmp = tempfile::tempdir().unwrap();
    let answers = tmp.path().join("answers");
    std::fs::create_dir(&answers).unwrap();
    let fake = fake_ansible_playbook(
        tmp.path(),
        "echo \"$*\" > ../ran.txt\n\
         out=$(sed -n 's/^{\"hadeploy_supervisor_plan_dir\": \"\\(.*\\)\"}$/\\1/p' \"${3#@}\")\n\
         cp ../answers/*.json \"$out\"/ 2>/dev/null\n\
         exit $(cat ../answers/rc)\n",
    );
    let plan = |format: &[&str]| {
        hadeploy(tmp.path())
            .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
            .arg("--src")
            .arg(fixtures().join("seed/simple/app.yml"))
            .args(["--action", "plan"])
            .args(format)
            .output()
            .unwrap()
    };
    let answer = |host: &str, plan: &str| {
        std::fs::write(
            answers.join(format!("{host}.json")),
            format!(r#"{{"reachable": true, "error": null, "plan": {plan}}}"#),
        )
        .unwrap()
    };
    std::fs::write(answers.join("rc"), "0").unwrap();
    answer("en1", "[]");
    answer("en2", "[]");
    let out = plan(&[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "en1: no change\nen2: no change\n"
    );
    let ran = std::fs::read_to_string(tmp.path().join("ran.txt")).unwrap();
    assert!(ran.starts_with("plan.yml --extra-vars @"), "{ran}");

    answer(
        "en2",
        r#"[{"kind": "file", "name": "/opt/tsup/program1.sh", "supervisor": null, "action": "change",
             "what": ["content"], "why": [], "pending": false,
             "diff": "--- /opt/tsup/program1.sh\n+++ /opt/tsup/program1.sh\n@@ -1 +1 @@\n-a\n+b\n"},
            {"kind": "program", "name": "program1", "supervisor": "tsupv", "action": "restart",
             "what": [], "why": ["/opt/tsup/program1.sh"], "pending": false}]"#,
    );
    let out = plan(&[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap(), @r"
    en1: no change
    en2: 2 changes
      ~ change   file     /opt/tsup/program1.sh (content)
          --- /opt/tsup/program1.sh
          +++ /opt/tsup/program1.sh
          @@ -1 +1 @@
          -a
          +b
      ~ restart  program  tsupv/program1: /opt/tsup/program1.sh changes
    ");
    let out = plan(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    insta::assert_snapshot!(serde_json::to_string_pretty(&report).unwrap(), @r#"
    {
      "en1": {
        "reachable": true,
        "error": null,
        "plan": []
      },
      "en2": {
        "reachable": true,
        "error": null,
        "plan": [
          {
            "kind": "file",
            "name": "/opt/tsup/program1.sh",
            "supervisor": null,
            "action": "change",
            "what": [
              "content"
            ],
            "why": [],
            "pending": false,
            "diff": "--- /opt/tsup/program1.sh\n+++ /opt/tsup/program1.sh\n@@ -1 +1 @@\n-a\n+b\n"
          },
          {
            "kind": "program",
            "name": "program1",
            "supervisor": "tsupv",
            "action": "restart",
            "what": [],
            "why": [
              "/opt/tsup/program1.sh"
            ],
            "pending": false
          }
        ]
      }
    }
    "#);

    // No host answered (a --limit that matches none): an error, not "no change".
    std::fs::rename(answers.join("en1.json"), tmp.path().join("en1.json")).unwrap();
    std::fs::rename(answers.join("en2.json"), tmp.path().join("en2.json")).unwrap();
    let out = plan(&[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    std::fs::rename(tmp.path().join("en1.json"), answers.join("en1.json")).unwrap();
    std::fs::rename(tmp.path().join("en2.json"), answers.join("en2.json")).unwrap();

    // A host the module failed on writes nothing, and ansible-playbook fails.
    std::fs::remove_file(answers.join("en2.json")).unwrap();
    std::fs::write(answers.join("rc"), "2").unwrap();
    let out = plan(&[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error: the plan could not be made on every host"),
        "{out:?}"
    );
    // --program narrows no plan.
    let out = hadeploy(tmp.path())
        .arg("--src")
        .arg(fixtures().join("seed/simple/app.yml"))
        .args(["--action", "plan", "--program", "program1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn format_is_for_the_status_action_only() {
    let out = hadeploy(&fixtures().join("seed/simple"))
        .args(["--src", "app.yml", "--action", "deploy", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`--format` is for `--action status`, `logs` and `plan` only")
    );
    let out = hadeploy(&fixtures().join("seed/simple"))
        .args(["--src", "app.yml", "--action", "status", "--stderr"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`--stderr` is for `--action logs` only"));
}

#[test]
fn logs_prints_each_line_with_its_host_and_process_or_json() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(
        logs.join("en1.json"),
        r#"{"reachable": true, "error": null, "supervisors": {"tsupv": {"running": true, "error": null,
            "programs": {"program1": {"lines": ["Hello from tsup:program1", "again"]}}}}}"#,
    )
    .unwrap();
    std::fs::write(
        logs.join("en2.json"),
        r#"{"reachable": true, "error": null, "supervisors": {"tsupv": {"running": true, "error": null,
            "programs": {"program1": {"lines": ["Hello from tsup:program1"]}}}}}"#,
    )
    .unwrap();
    let fake = fake_ansible_playbook(
        tmp.path(),
        "echo \"$*\" > ../ran.txt\n\
         cat \"${3#@}\" >> ../ran.txt\n\
         out=$(sed 's/.*\"hadeploy_supervisor_logs_dir\": \"\\([^\"]*\\)\".*/\\1/' \"${3#@}\")\n\
         cp ../logs/*.json \"$out\"/\n",
    );
    let run = |args: &[&str]| {
        hadeploy(tmp.path())
            .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
            .arg("--src")
            .arg(fixtures().join("seed/simple/app.yml"))
            .args(["--action", "logs"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--program", "program1", "--lines", "2", "--stderr"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap(), @r"
    en1 tsupv/program1 | Hello from tsup:program1
    en1 tsupv/program1 | again
    en2 tsupv/program1 | Hello from tsup:program1
    ");
    let ran = std::fs::read_to_string(tmp.path().join("ran.txt")).unwrap();
    assert!(
        ran.lines().nth(1).unwrap_or_default().starts_with(
            "{\"hadeploy_supervisor_logs_lines\": 2, \"hadeploy_supervisor_logs_stream\": \"stderr\", \"hadeploy_supervisor_logs_program\": \"program1\", \"hadeploy_supervisor_logs_dir\":"
        ),
        "{ran}"
    );
    let out = run(&["--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["en2"]["supervisors"]["tsupv"]["programs"]["program1"]["lines"][0],
        "Hello from tsup:program1"
    );
}

/// An executable `ansible-playbook` stand-in in `dir` running `script` (sh).
fn fake_ansible_playbook(dir: &Path, script: &str) -> PathBuf {
    let fake = dir.join("fake-ansible-playbook");
    std::fs::write(&fake, format!("#!/bin/sh\n{script}")).unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .unwrap();
    fake
}

/// `--src /dev/stdin` with standard input a pipe nobody closes: refused at
/// once, not waited on.
#[cfg(unix)]
#[test]
fn standard_input_as_a_source_is_refused_without_waiting() {
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("hadeploy");
    let mut child = std::process::Command::new(bin)
        .current_dir(tmp.path())
        .args(["--src", "/dev/stdin", "--action", "none"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kept open for the whole run: a read of it would never end.
    let _stdin = child.stdin.take();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("hadeploy waited on standard input");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(!tmp.path().join("hadeploy-work").exists());
}

/// `generate --check` on a folder where someone put links and pipes: none is
/// followed or opened, each is reported as a difference, and no secret of
/// the inventory is printed in the diff.
#[cfg(unix)]
#[test]
fn check_neither_follows_links_nor_opens_pipes_nor_prints_passwords() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app.yml");
    let with_password =
        |pw: &str| format!("hosts:\n- {{ name: en1, ssh_host: 10.0.0.1, ssh_user: app, ssh_password: {pw} }}\n");
    std::fs::write(&app, with_password("old-secret-1")).unwrap();
    let out = hadeploy(tmp.path())
        .args(["generate", "--src", "app.yml", "--out", "work"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let work = tmp.path().join("work");
    // A file of the project replaced by a link to a secret outside it, a
    // folder by a link to a large tree, a pipe nobody writes to.
    let secret = tmp.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-CONTENT\n").unwrap();
    std::fs::remove_file(work.join("deploy.yml")).unwrap();
    std::os::unix::fs::symlink(&secret, work.join("deploy.yml")).unwrap();
    std::fs::remove_dir_all(work.join("collections")).unwrap();
    std::os::unix::fs::symlink("/usr", work.join("collections")).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(work.join("stop.yml.fifo"))
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(&app, with_password("new-secret-2")).unwrap();
    let out = hadeploy(tmp.path())
        .args(["generate", "--src", "app.yml", "--out", "work", "--check"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stdout.contains("TOP-SECRET") && !stderr.contains("TOP-SECRET"),
        "{stdout}"
    );
    assert!(stderr.contains("~ deploy.yml (a symbolic link)"), "{stderr}");
    assert!(stderr.contains("- collections (a symbolic link)"), "{stderr}");
    assert!(stderr.contains("- stop.yml.fifo (a FIFO)"), "{stderr}");
    assert!(
        stderr.contains("+ collections/"),
        "the project's collection is missing: {stderr}"
    );
    assert!(
        stdout.contains("inventory.yml"),
        "the password change is a difference: {stdout}"
    );
    assert!(!stdout.contains("secret-1") && !stdout.contains("secret-2"), "{stdout}");
    assert!(stdout.contains("<redacted>"), "{stdout}");
}

/// A second run on a working folder in use is refused, naming the run that
/// holds it, and leaves the deployment's project alone; once the first has
/// ended, the next run goes ahead and clears what an interrupted run left.
#[test]
fn a_working_folder_in_use_is_locked_for_the_whole_run() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = fake_ansible_playbook(
        tmp.path(),
        "echo $$ > ../pid.tmp && mv ../pid.tmp ../pid.txt\nwhile [ ! -e ../go ]; do sleep 0.05; done\n",
    );
    let app = fixtures().join("seed/simple/app.yml");
    let first = std::process::Command::new(assert_cmd::cargo::cargo_bin("hadeploy"))
        .current_dir(tmp.path())
        .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
        .arg("--src")
        .arg(&app)
        .args(["--action", "deploy"])
        .spawn()
        .unwrap();
    wait_for_file(&tmp.path().join("pid.txt"));
    let marker_before = std::fs::metadata(tmp.path().join("hadeploy-work/deploy.yml")).unwrap();
    let out = hadeploy(tmp.path())
        .arg("--src")
        .arg(&app)
        .args(["--action", "none"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "`hadeploy-work` is in use by another run of hadeploy (pid {}: --action deploy)",
            first.id()
        )),
        "{stderr}"
    );
    let marker_after = std::fs::metadata(tmp.path().join("hadeploy-work/deploy.yml")).unwrap();
    assert_eq!(marker_before.modified().unwrap(), marker_after.modified().unwrap());
    std::fs::write(tmp.path().join("go"), "").unwrap();
    let mut first = first;
    assert!(first.wait().unwrap().success());
    // What a run killed while writing leaves beside the folder.
    std::fs::create_dir_all(tmp.path().join(".hadeploy-work.tmp-999999/roles")).unwrap();
    std::fs::create_dir_all(tmp.path().join(".hadeploy-work.old-999998")).unwrap();
    let out = hadeploy(tmp.path())
        .arg("--src")
        .arg(&app)
        .args(["--action", "none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-") || n.contains(".old-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A description, key or template inside the working folder would be
/// deleted with it by the next run: refused, at the line that names it.
#[test]
fn inputs_inside_the_working_folder_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("keys")).unwrap();
    std::fs::write(work.join(hadeploy_codegen::MARKER), "").unwrap();
    std::fs::copy(
        fixtures().join("seed/improved/keys/tsup_id.pub"),
        work.join("keys/tsup.pub"),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("app.yml"),
        "hosts:\n- { name: en1, ssh_host: 10.0.0.1 }\nusers:\n- { login: tsup, authorized_keys: [work/keys/tsup.pub] }\n",
    )
    .unwrap();
    std::fs::write(work.join("more.yml"), "vars: { a: 1 }\n").unwrap();
    let out = hadeploy(tmp.path())
        .args([
            "--src",
            "app.yml",
            "--src",
            "work/more.yml",
            "--action",
            "none",
            "--workingFolder",
            "./work/",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`work/more.yml` is inside the working folder"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`work/keys/tsup.pub` is inside the working folder"),
        "{stderr}"
    );
    assert!(stderr.contains("--> app.yml:4:"), "{stderr}");
    assert!(work.join("keys/tsup.pub").exists() && work.join("more.yml").exists());
}

/// Whether process `pid` still exists.
fn alive(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Waits up to 20 s for process `pid` to be gone.
fn wait_gone(pid: u32) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while alive(pid) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    true
}

/// hadeploy started on the simple case with a fake ansible-playbook running
/// `script`, standard input not a terminal; returns it once the fake wrote
/// its pid (and its background job's) into `pid.txt`.
fn deploy_with(tmp: &Path, script: &str, env: &[(&str, &str)]) -> (std::process::Child, Vec<u32>) {
    let fake = fake_ansible_playbook(tmp, script);
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hadeploy"))
        .current_dir(tmp)
        .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
        .envs(env.iter().copied())
        .arg("--src")
        .arg(fixtures().join("seed/simple/app.yml"))
        .args(["--action", "deploy"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = tmp.join("pid.txt");
    wait_for_file(&pid_file);
    let pids = std::fs::read_to_string(&pid_file)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    (child, pids)
}

/// SIGKILL and SIGQUIT, which once left ansible-playbook deploying alone:
/// the kernel's parent-death signal, or hadeploy itself, stops it and every
/// process of its group.
#[cfg(target_os = "linux")]
#[test]
fn killing_hadeploy_outright_stops_ansible_playbook_and_its_group() {
    for signal in ["KILL", "QUIT"] {
        let tmp = tempfile::tempdir().unwrap();
        let (child, pids) = deploy_with(
            tmp.path(),
            "sleep 300 & s=$!\ntrap 'echo TERM > ../got.txt; kill $s; exit 9' TERM\n\
             echo $$ $s > ../pid.tmp && mv ../pid.tmp ../pid.txt\nwait $s\n",
            &[],
        );
        send_signal(signal, child.id());
        let out = child.wait_with_output().unwrap();
        for pid in &pids {
            assert!(
                wait_gone(*pid),
                "SIG{signal}: process {pid} of ansible-playbook's group still runs"
            );
        }
        let got = std::fs::read_to_string(tmp.path().join("got.txt")).unwrap_or_default();
        assert_eq!(got.trim(), "TERM", "SIG{signal}: ansible-playbook was not told to stop");
        if signal == "QUIT" {
            assert_eq!(out.status.code(), Some(131), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

/// An ansible-playbook that ignores SIGTERM is killed, with everything in
/// its group, once the grace period is over; hadeploy then exits 128 + 15.
#[test]
fn an_ansible_playbook_ignoring_sigterm_is_killed_after_the_grace_period() {
    let tmp = tempfile::tempdir().unwrap();
    let (child, pids) = deploy_with(
        tmp.path(),
        "trap '' TERM INT\nsleep 300 & s=$!\necho $$ $s > ../pid.tmp && mv ../pid.tmp ../pid.txt\nwait $s\nwait $s\n",
        &[("HADEPLOY_STOP_GRACE", "1")],
    );
    send_signal("TERM", child.id());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", String::from_utf8_lossy(&out.stderr));
    for pid in &pids {
        assert!(wait_gone(*pid), "process {pid} outlived its group's SIGKILL");
    }
}

/// An ansible-playbook killed by a signal is not an "invalid description"
/// (exit 1): hadeploy exits 128 + the signal, as a shell would.
#[test]
fn an_ansible_playbook_killed_by_a_signal_gives_128_plus_its_number() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = fake_ansible_playbook(tmp.path(), "kill -SEGV $$\n");
    let out = hadeploy(tmp.path())
        .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
        .arg("--src")
        .arg(fixtures().join("seed/simple/app.yml"))
        .args(["--action", "deploy"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(128 + 11), "{stderr}");
    assert!(stderr.contains("killed by signal 11"), "{stderr}");
}

/// A long variable used in many paths on many hosts once wrote 800 MB, each
/// host's variables repeating every item: each item is now written once,
/// whatever the number of hosts.
#[test]
fn a_long_value_on_many_hosts_is_written_once() {
    let tmp = tempfile::tempdir().unwrap();
    let big = "a".repeat((1 << 20) - 100);
    let hosts: String = (0..100)
        .map(|i| format!("- {{ name: h{i}, ssh_host: 10.0.0.{} }}\n", i + 1))
        .collect();
    let folders: String = (0..8)
        .map(|i| format!("- {{ path: \"/opt/x{i}/${{big}}\", owner: app, group: app, mode: '0755' }}\n"))
        .collect();
    std::fs::write(
        tmp.path().join("app.yml"),
        format!("vars:\n  big: {big}\nhosts:\n{hosts}folders:\n{folders}"),
    )
    .unwrap();
    let out = hadeploy(tmp.path())
        .args(["--src", "app.yml", "--action", "none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let data = std::fs::metadata(tmp.path().join("hadeploy-work/vars/hadeploy.yml")).unwrap();
    // The 8 folders, and the variable itself in `hadeploy_vars`.
    assert!(data.len() > 9 << 20 && data.len() < 10 << 20, "{}", data.len());
}

/// The project is bounded all the same: a template larger than the bound
/// fails the run with a clear error, and nothing is written.
#[test]
fn a_project_over_its_bound_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("templates")).unwrap();
    // Sparse: its size is all that is read before the refusal.
    std::fs::File::create(tmp.path().join("templates/big.j2"))
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    std::fs::write(
        tmp.path().join("app.yml"),
        "hosts:\n- { name: h0, ssh_host: 10.0.0.1 }\nlocal_templates_folders: [templates]\n\
         files:\n- { scope: all, src: 'tmpl://big.j2', dest_folder: /opt/app, owner: app, group: app, mode: '0644' }\n",
    )
    .unwrap();
    let out = hadeploy(tmp.path())
        .args(["--src", "app.yml", "--action", "none"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: the project would be larger than 256 MiB"),
        "{stderr}"
    );
    assert!(stderr.contains("help: "), "{stderr}");
    let mut left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["app.yml", "templates"].map(std::ffi::OsString::from));
}

/// A `file://` source is copied as a stream: one larger than the whole
/// project's bound is copied all the same, with its checksum.
#[test]
fn large_file_sources_are_streamed_into_the_project() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("files")).unwrap();
    let big = std::fs::File::create(tmp.path().join("files/big.bin")).unwrap();
    // Sparse: no disk used, but 300 MiB to read, past the 256 MiB bound.
    big.set_len(300 << 20).unwrap();
    drop(big);
    std::fs::write(
        tmp.path().join("app.yml"),
        "hosts:\n- { name: en1, ssh_host: 10.0.0.1 }\nlocal_files_folders: [files]\n\
         files:\n- { src: 'file://big.bin', dest_folder: /opt/app, owner: app, group: app, mode: '0644' }\n",
    )
    .unwrap();
    let out = hadeploy(tmp.path())
        .args(["--src", "app.yml", "--action", "none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let copies: Vec<_> = std::fs::read_dir(tmp.path().join("hadeploy-work/files/copies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(std::fs::metadata(&copies[0]).unwrap().len(), 300 << 20);
    // SHA-1 of 300 MiB of zeros, as `sha1sum` prints it.
    let host_vars = std::fs::read_to_string(tmp.path().join("hadeploy-work/vars/hadeploy.yml")).unwrap();
    let zeros = {
        let mut h = sha1_smol::Sha1::new();
        let block = vec![0u8; 1 << 20];
        for _ in 0..300 {
            h.update(&block);
        }
        h.digest().to_string()
    };
    assert!(host_vars.contains(&zeros), "{host_vars}");
    // And `generate --check` compares it as a stream too.
    let out = hadeploy(tmp.path())
        .args(["generate", "--src", "app.yml", "--out", "hadeploy-work", "--check"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `~` in local paths is the user's home, as the shell reads it, and an
/// absolute key path stays absolute in the generated inventory (it once
/// became a path relative to the project, or `../~/.ssh/id`).
#[test]
fn home_and_absolute_local_paths_keep_their_meaning() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::copy(fixtures().join("seed/simple/keys/root_id"), home.join(".ssh/id_test")).unwrap();
    std::fs::copy(
        fixtures().join("seed/improved/keys/tsup_id.pub"),
        home.join(".ssh/id_test.pub"),
    )
    .unwrap();
    std::fs::write(home.join("more.yml"), "vars: { from_home: yes }\n").unwrap();
    let abs = tmp.path().join("abs_id");
    std::fs::copy(fixtures().join("seed/simple/keys/root_id"), &abs).unwrap();
    std::fs::create_dir(tmp.path().join("app")).unwrap();
    std::fs::write(
        tmp.path().join("app/app.yml"),
        format!(
            "include: ~/more.yml\nhosts:\n- {{ name: en1, ssh_host: 10.0.0.1, ssh_private_key_file: ~/.ssh/id_test }}\n\
             - {{ name: en2, ssh_host: 10.0.0.2, ssh_private_key_file: {} }}\n\
             users:\n- {{ login: app, authorized_keys: [~/.ssh/id_test.pub] }}\n",
            abs.display()
        ),
    )
    .unwrap();
    let out = hadeploy(&tmp.path().join("app"))
        .env("HOME", &home)
        .args(["--src", "app.yml", "--action", "none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let inv = std::fs::read_to_string(tmp.path().join("app/hadeploy-work/inventory.yml")).unwrap();
    assert!(
        inv.contains(&format!(
            "ansible_ssh_private_key_file: \"{}\"",
            home.join(".ssh/id_test").display()
        )),
        "{inv}"
    );
    assert!(
        inv.contains(&format!("ansible_ssh_private_key_file: \"{}\"", abs.display())),
        "{inv}"
    );
    let group_vars = std::fs::read_to_string(tmp.path().join("app/hadeploy-work/group_vars/all.yml")).unwrap();
    assert!(group_vars.contains("from_home"), "{group_vars}");
}

#[test]
fn inventories_are_read_by_ansible_with_the_variables_files_beside_them() {
    let Some(playbook) = venv_ansible_playbook() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("inv/group_vars")).unwrap();
    std::fs::write(dir.join("inv/hosts.yml"), "edges:\n  hosts:\n    en1:\n").unwrap();
    // Only Ansible reads `group_vars/` beside an inventory.
    std::fs::write(
        dir.join("inv/group_vars/edges.yml"),
        "ansible_user: deployer\nzone: eu\n",
    )
    .unwrap();
    std::fs::write(dir.join("app.yml"), "ansible_inventories: [{ file: inv/hosts.yml }]\n").unwrap();
    let dump = |playbook: &Path| {
        hadeploy(dir)
            .args(["dump", "--src", "app.yml"])
            .env("HADEPLOY_ANSIBLE_PLAYBOOK", playbook)
            .output()
            .unwrap()
    };
    let out = dump(&playbook);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(model["hosts"]["en1"]["ssh_user"], "deployer");
    assert_eq!(model["hosts"]["en1"]["ansible_vars"]["zone"], "eu");

    // Without Ansible, the built-in reader reads the inventory alone.
    let out = dump(Path::new("/nonexistent/ansible-playbook"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(model["hosts"]["en1"].get("ssh_user"), None);

    // A variables file encrypted as a whole is refused, and not decrypted.
    let vault = "$ANSIBLE_VAULT;1.1;AES256\n6162636465666768\n";
    std::fs::write(dir.join("inv/group_vars/edges.yml"), vault).unwrap();
    let out = dump(&playbook);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is encrypted as a whole"), "{stderr}");
    assert!(!stderr.contains("6162636465666768"), "{stderr}");

    // Ansible's messages may quote the file: they are not shown.
    std::fs::write(dir.join("inv/group_vars/edges.yml"), "zone: eu\n").unwrap();
    std::fs::write(dir.join("inv/hosts.yml"), "edges:\n  hosts: [secret-token]\n").unwrap();
    let out = dump(&playbook);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(!stderr.contains("secret-token"), "{stderr}");
}

/// HADeploy's file scopes: a host or group name as a scope selects the files
/// and folders whose `scope` is written so, and only them.
#[test]
fn host_and_group_scopes_select_files_and_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = fake_ansible_playbook(tmp.path(), "echo \"$*\" > ../ran.txt\n");
    std::fs::write(
        tmp.path().join("app.yml"),
        "hosts: [{ name: en1 }, { name: en2 }]\n\
         host_groups: [{ name: edges, hosts: [en1] }]\n\
         folders:\n\
         - { scope: edges, path: /opt/edge_only, owner: root, group: root, mode: '0755' }\n\
         - { scope: all, path: /opt/everywhere, owner: root, group: root, mode: '0755' }\n\
         - { scope: 'en1:en2', path: /opt/both, owner: root, group: root, mode: '0755' }\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = hadeploy(tmp.path())
            .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
            .args(["--src", "app.yml", "--action", "deploy"])
            .args(args)
            .output()
            .unwrap();
        let ran = std::fs::read_to_string(tmp.path().join("ran.txt")).unwrap_or_default();
        let _ = std::fs::remove_file(tmp.path().join("ran.txt"));
        let vars = std::fs::read_to_string(tmp.path().join("hadeploy-work/vars/hadeploy.yml")).unwrap_or_default();
        let folders: Vec<&str> = ["/opt/edge_only", "/opt/everywhere", "/opt/both"]
            .into_iter()
            .filter(|f| vars.contains(&format!("\"{f}\"")))
            .collect();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), ran, folders, err)
    };
    let (code, ran, folders, _) = run(&["--scope", "edges"]);
    assert_eq!(code, Some(0));
    assert_eq!(ran, "deploy.yml --tags files\n");
    assert_eq!(folders, ["/opt/edge_only"]);
    // Written as the item writes it.
    let (_, ran, folders, _) = run(&["--scope", "en1:en2,supervisor"]);
    assert_eq!(ran, "deploy.yml --tags supervisor,files\n");
    assert_eq!(folders, ["/opt/both"]);
    // Where the area `files` runs, an excluded file scope's items do not.
    let (_, ran, folders, _) = run(&["--noScope", "edges"]);
    assert_eq!(ran, "deploy.yml\n");
    assert_eq!(folders, ["/opt/everywhere", "/opt/both"]);
    let (_, _, folders, _) = run(&[]);
    assert_eq!(folders, ["/opt/edge_only", "/opt/everywhere", "/opt/both"]);
    // A host that no item's scope names: a warning, nothing of files runs.
    let (code, ran, folders, err) = run(&["--scope", "en2"]);
    assert_eq!((code, ran.as_str()), (Some(0), "deploy.yml --tags files\n"));
    assert!(folders.is_empty(), "{folders:?}");
    assert!(
        err.contains("warning: scope `en2`: no file or folder has this `scope`"),
        "{err}"
    );
    let (code, _, _, err) = run(&["--scope", "en3"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("`en3` is not a scope"), "{err}");
    // The description's `included_scopes` names file scopes too.
    let app = std::fs::read_to_string(tmp.path().join("app.yml")).unwrap();
    std::fs::write(tmp.path().join("app.yml"), format!("{app}included_scopes: [edges]\n")).unwrap();
    let (code, ran, folders, _) = run(&[]);
    assert_eq!((code, ran.as_str()), (Some(0), "deploy.yml --tags files\n"));
    assert_eq!(folders, ["/opt/edge_only"]);
}

/// Runs of hadeploy in `dir` on the description `app`, with arguments, whose
/// `ansible-playbook` writes its own arguments to `dir/ran.txt` and fails
/// (exit 2).
fn failing_runs(dir: &Path, app: PathBuf) -> impl Fn(&[&str]) -> std::process::Output + '_ {
    let fake = fake_ansible_playbook(dir, "echo \"$*\" > ../ran.txt\nexit 2\n");
    move |args: &[&str]| {
        hadeploy(dir)
            .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
            .arg("--src")
            .arg(&app)
            .args(args)
            .output()
            .unwrap()
    }
}

/// `--rolling` reaches deploy.yml's `serial` as `hadeploy_rolling`; a
/// failed rolling deploy says the hosts after the failed batch were left
/// alone; it is for deploys only, and a batch of no host is refused.
#[test]
fn rolling_deploys_take_their_batch_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let run = failing_runs(tmp.path(), fixtures().join("seed/simple/app.yml"));
    let out = run(&["--action", "deploy", "--rolling", "25%"]);
    assert_eq!(out.status.code(), Some(2));
    let ran = std::fs::read_to_string(tmp.path().join("ran.txt")).unwrap();
    assert_eq!(ran, "deploy.yml --extra-vars hadeploy_rolling=25%\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the rolling deploy stopped at the first batch with a failed host"),
        "{stderr}"
    );
    // Without rolling, a failed deploy is Ansible's to report.
    let out = run(&["--action", "deploy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("rolling"));
    for (args, says) in [
        (
            &["--action", "status", "--rolling", "1"][..],
            "`--rolling` is for `--action deploy`, `restart`, `start` and `stop` only",
        ),
        (
            &["--action", "deploy", "--rolling", "0"][..],
            "a batch of 0 hosts deploys nothing",
        ),
        (&["--action", "deploy", "--rolling", "150%"][..], "is more than 100%"),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{args:?}");
    }
}

/// `--program` narrows start, stop, restart and status to programs (or
/// groups of programs) of the description, given to the playbook as data;
/// a rolling restart follows `--rolling`; a name the description does not
/// have is refused, listing those it has.
#[test]
fn programs_named_on_the_command_line_reach_the_playbooks() {
    let tmp = tempfile::tempdir().unwrap();
    let run = failing_runs(tmp.path(), fixtures().join("hadeploy-docs/groups.yml"));
    let ran = || std::fs::read_to_string(tmp.path().join("ran.txt")).unwrap();
    let out = run(&["--action", "restart", "--program", "program1,grp1", "--rolling", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        ran(),
        "restart.yml --extra-vars {\"hadeploy_supervisor_programs\":[\"program1\",\"grp1\"]} \
         --extra-vars hadeploy_rolling=1\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("the rolling restart stopped at the first batch"));
    let out = run(&["--action", "stop", "--program", "program2"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        ran(),
        "stop.yml --extra-vars {\"hadeploy_supervisor_programs\":[\"program2\"]}\n"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("rolling"));
    for (args, says) in [
        (
            &["--action", "restart", "--program", "program9"][..],
            "`--program program9`: the description has no program or group of programs of this name; \
             it has: grp1, program1, program2",
        ),
        (
            &["--action", "deploy", "--program", "program1"][..],
            "`--program` is for `--action start`, `stop`, `restart`, `status` and `logs` only",
        ),
        (
            &["--action", "logs", "--program", "program1,program2"][..],
            "`--action logs` reads one program's logs",
        ),
        (
            &["--action", "start", "--program", "{{ x }}"][..],
            "names a program or a group of programs, and it contains '{'",
        ),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// `ansible-inventory` runs isolated from the controller's environment and
/// its working folder: a vault password the environment offers does not
/// decrypt a file encrypted as a whole into the project, an `ansible.cfg`
/// of the working folder does not load a plugin, and a FIFO beside the
/// inventory is refused before anything reads it.
#[test]
fn inventories_are_read_isolated_from_the_controller_s_environment() {
    let Some(playbook) = venv_ansible_playbook() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("inv/host_vars")).unwrap();
    std::fs::write(dir.join("inv/hosts.yml"), "all:\n  hosts:\n    en1:\n").unwrap();
    std::fs::write(dir.join("pw"), "s3cret-vault-password\n").unwrap();
    std::fs::write(dir.join("inv/host_vars/en1.yml"), "db_password: TOP-SECRET-VALUE\n").unwrap();
    let vault = std::process::Command::new(playbook.with_file_name("ansible-vault"))
        .args(["encrypt", "--vault-password-file", "pw", "inv/host_vars/en1.yml"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(vault.status.success(), "{}", String::from_utf8_lossy(&vault.stderr));
    // A vars plugin the working folder's ansible.cfg names: Ansible imports
    // it, running its code, when it looks for vars plugins.
    std::fs::create_dir(dir.join("vp")).unwrap();
    std::fs::write(
        dir.join("vp/evil.py"),
        format!("open({:?}, 'w').close()\n", dir.join("MARK").display().to_string()),
    )
    .unwrap();
    std::fs::write(dir.join("ansible.cfg"), "[defaults]\nvars_plugins = ./vp\n").unwrap();
    std::fs::write(dir.join("app.yml"), "ansible_inventories: [{ file: inv/hosts.yml }]\n").unwrap();
    let generate = |out: &str| {
        hadeploy(dir)
            .env("HADEPLOY_ANSIBLE_PLAYBOOK", &playbook)
            .env("ANSIBLE_VAULT_PASSWORD_FILE", dir.join("pw"))
            .args(["generate", "--src", "app.yml", "--out", out])
            .output()
            .unwrap()
    };
    let out = generate("encrypted");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("encrypted as a whole"), "{said}");
    assert!(!said.contains("TOP-SECRET"), "{said}");
    assert!(!dir.join("encrypted").exists());
    assert!(
        !dir.join("MARK").exists(),
        "the working folder's ansible.cfg loaded a plugin"
    );

    // Decrypted, the file is read by Ansible, still without the plugin.
    let vault = std::process::Command::new(playbook.with_file_name("ansible-vault"))
        .args(["decrypt", "--vault-password-file", "pw", "inv/host_vars/en1.yml"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(vault.status.success());
    let out = generate("clear");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !dir.join("MARK").exists(),
        "the working folder's ansible.cfg loaded a plugin"
    );

    // A FIFO among the variables files: refused at once, never opened.
    let fifo = dir.join("inv/host_vars/en2.yml");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let start = std::time::Instant::now();
    let out = generate("fifo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not a regular file"), "{stderr}");
    assert!(start.elapsed() < std::time::Duration::from_secs(30));
}

/// A supervisord that should answer and does not (a fault, or down while
/// its service runs), or a host whose module failed, makes `status` exit
/// 5 naming each; one stopped on purpose does not.
#[test]
fn status_exits_5_when_a_supervisord_that_should_answer_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let status = tmp.path().join("status");
    std::fs::create_dir(&status).unwrap();
    let fake = fake_ansible_playbook(
        tmp.path(),
        "out=$(sed -n 's/^{\"hadeploy_supervisor_status_dir\": \"\\(.*\\)\"}$/\\1/p' \"${3#@}\")\n\
         cp ../status/*.json \"$out\"/\n",
    );
    let run = |en1: &str, en2: &str| {
        std::fs::write(status.join("en1.json"), en1).unwrap();
        std::fs::write(status.join("en2.json"), en2).unwrap();
        hadeploy(tmp.path())
            .env("HADEPLOY_ANSIBLE_PLAYBOOK", &fake)
            .arg("--src")
            .arg(fixtures().join("seed/simple/app.yml"))
            .args(["--action", "status"])
            .output()
            .unwrap()
    };
    let stopped = r#"{"reachable": true, "supervisors": {"tsupv": {"managed": true, "running": false, "down": true,
        "error": "unix:///run/tsupv.sock no such file",
        "service": {"unit": "supervisord_tsupv.service", "state": "stopped", "enabled": true}}}}"#;
    let out = run(stopped, stopped);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let locked = r#"{"reachable": true, "supervisors": {"tsupv": {"managed": true, "running": false, "down": false,
        "error": "unix:///run/tsupv.sock asks for a user name and password",
        "service": {"unit": "supervisord_tsupv.service", "state": "running", "enabled": true}}}}"#;
    let failed = r#"{"reachable": true, "error": "MODULE FAILURE: boom\nmore", "supervisors": {}}"#;
    let out = run(locked, failed);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("error: no answer: en1/tsupv: unix:///run/tsupv.sock asks for a user name and password"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: no answer: en2: MODULE FAILURE: boom"),
        "{stderr}"
    );

    // Down while its service runs: a fault too.
    let crashed = stopped.replace("\"stopped\"", "\"running\"");
    let out = run(&crashed, stopped);
    assert_eq!(out.status.code(), Some(5));
}

/// `dump` hides the password a download URL carries, as it hides every
/// secret key's value.
#[test]
fn dump_hides_the_password_of_a_url() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("app.yml"),
        "hosts: [{ name: en1 }]\nfiles:\n- { scope: all, src: \"https://bob:hunter4@example.com/x.tgz\", dest_folder: /opt/x, owner: root, group: root, mode: \"0644\" }\n",
    )
    .unwrap();
    let out = hadeploy(tmp.path())
        .args(["dump", "--src", "app.yml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dump = String::from_utf8(out.stdout).unwrap();
    assert!(!dump.contains("hunter4"), "{dump}");
    assert!(dump.contains("https://bob:<redacted>@example.com/x.tgz"), "{dump}");
}

/// A few hundred bytes of aliases that expand to a billion values: refused
/// at once, before Ansible's loader (which would expand them all) runs.
#[test]
fn an_inventory_of_nested_aliases_is_refused_before_ansible_reads_it() {
    let Some(playbook) = venv_ansible_playbook() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut inv = String::from("all:\n  hosts:\n    en1:\n      v0: &v0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let refs = vec![format!("*v{}", i - 1); 10].join(", ");
        inv.push_str(&format!("      v{i}: &v{i} [{refs}]\n"));
    }
    assert!(inv.len() < 1000);
    std::fs::write(tmp.path().join("hosts.yml"), inv).unwrap();
    std::fs::write(
        tmp.path().join("app.yml"),
        "ansible_inventories: [{ file: hosts.yml }]\n",
    )
    .unwrap();
    let start = std::time::Instant::now();
    let out = hadeploy(tmp.path())
        .env("HADEPLOY_ANSIBLE_PLAYBOOK", &playbook)
        .args(["generate", "--src", "app.yml", "--out", "proj"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read `hosts.yml`: line 9: the description expands to more than"),
        "{stderr}"
    );
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

/// `dump` fails where `--action none` fails: a `conf_file_src` template
/// that does not render.
#[test]
fn dump_fails_where_generation_fails() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("sv.conf"),
        "[supervisord]\nuser={{{ no_such_attribute }}}\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("app.yml"),
        "hosts: [{ name: en1 }]\nlocal_files_folders: [\".\"]\nsupervisors:\n- { name: sv, scope: all, user: u, group: g, conf_file_src: \"file://sv.conf\" }\n",
    )
    .unwrap();
    for args in [
        &["dump", "--src", "app.yml"][..],
        &["--src", "app.yml", "--action", "none"],
    ] {
        let out = hadeploy(tmp.path()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("sv.conf") && stderr.contains("undefined"),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty() || args[0] != "dump");
    }
}
