//! Secrets in the generated project: where each one may appear, and where
//! it must not (docs/security.md). Clear secrets are searched for in every
//! generated file; the vault form is checked by Ansible itself when the
//! venv is there.

use std::path::{Path, PathBuf};
use std::process::Command;

use hadeploy_codegen::{Options, Project, render};
use hadeploy_model::SrcArg;
use serde_json::{Value, json};

mod common;
use common::yaml_tree;

const HTTP: &str = "Http-Clear-Pw1";
const SSH: &str = "Ssh-Clear-Pw2";
const BECOME: &str = "Become-Clear-Pw3";
const URL: &str = "Url-Clear-Pw4";
const USER: &str = "User-Clear-Pw5";
/// The clear text inside [`VAULT`], whose password is [`VAULT_PASSWORD`].
const VAULTED: &str = "S3cr3t-from-vault";
const VAULT_PASSWORD: &str = "hadeploy-test-vault";
const VAULT: &str = "$ANSIBLE_VAULT;1.1;AES256
36653732356266663165613664353935613465393966633932646662653737373139383966333836
3564366538643236313737323630326263636462363730300a633163313935383136333263393466
64363532633631366430373632323539636239656635323334393639333865623437626637313966
6233313836623230360a623636373232393438393338646361303239386266353338363233303130
64363461343038616461376532313163336163663836333839636132323037653765";

fn description(user_password: &str, ssh_password: &str) -> String {
    let vault: String = VAULT.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        r#"
hosts:
- name: h1
  ssh_host: 127.0.0.1
  ssh_password: "{ssh_password}"
  become_pass: {BECOME}
- name: h2
  ssh_host: 127.0.0.2
encrypted_vars:
  vault_ssh_password: !vault |
{vault}  vault_plain_form: "{}"
users:
- {{ login: app, password: '{user_password}' }}
files:
- {{ src: "https://example.invalid/a.tgz", dest_folder: /opt, owner: app, group: app, mode: "0644", url_username: me, url_password: {URL}, scope: h1 }}
supervisors:
- name: sv
  scope: all
  user: app
  group: app
  http_server: {{ username: admin, password: {HTTP} }}
supervisor_programs:
- {{ name: p, supervisor: sv, command: /bin/sleep 60 }}
"#,
        VAULT.replace('\n', "\\n")
    )
}

fn load(text: &str) -> Result<hadeploy_model::Model, hadeploy_model::Diagnostics> {
    hadeploy_model::load(&[SrcArg::Text {
        path: "/nonexistent-hadeploy-secrets/app.yml".into(),
        text: text.to_string(),
    }])
}

const CRYPTED: &str =
    "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/";

fn project(ssh_password: &str) -> Project {
    let model = load(&description(CRYPTED, ssh_password)).unwrap_or_else(|d| panic!("{d}"));
    render(&model, &Options::default()).unwrap()
}

/// The generated files that contain `needle`.
fn holding(project: &Project, needle: &str) -> Vec<String> {
    project
        .iter()
        .filter(|(_, c)| String::from_utf8_lossy(c.as_bytes().unwrap_or_default()).contains(needle))
        .map(|(p, _)| p.clone())
        .collect()
}

fn file(project: &Project, path: &str) -> String {
    String::from_utf8(project[path].as_bytes().unwrap().to_vec()).unwrap()
}

#[test]
fn clear_secrets_appear_only_where_ansible_reads_them() {
    let p = project(SSH);
    // Hashed when loaded; decrypted by Ansible only.
    assert_eq!(holding(&p, HTTP), Vec::<String>::new(), "the web password is hashed");
    assert_eq!(
        holding(&p, VAULTED),
        Vec::<String>::new(),
        "a vault value is never decrypted"
    );
    // Connection secrets: in the inventory only, where Ansible reads them.
    assert_eq!(holding(&p, SSH), ["inventory.yml"]);
    assert_eq!(holding(&p, BECOME), ["inventory.yml"]);
    // A download password: only in the roles' inputs.
    assert_eq!(holding(&p, URL), ["vars/hadeploy.yml"]);
    let inventory = file(&p, "inventory.yml");
    assert_eq!(inventory.matches(SSH).count(), 1, "{inventory}");
    // The crypted user password goes where the `user` task reads it.
    assert_eq!(holding(&p, CRYPTED), ["vars/hadeploy.yml"]);
    // The web password's hash, in the instance's configuration only.
    let hash = format!("{{SHA}}{}", sha1_hex(HTTP));
    assert_eq!(holding(&p, &hash), ["files/supervisors/sv/supervisord.conf"]);
}

fn sha1_hex(s: &str) -> String {
    // The model computes it; read it back from there rather than recompute.
    let m = load(&description(CRYPTED, SSH)).unwrap();
    let auth = m.supervisors[0].http_server.as_ref().unwrap().auth.as_ref().unwrap();
    assert_ne!(auth.password_sha1, s);
    auth.password_sha1.trim_start_matches("{SHA}").to_string()
}

#[test]
fn the_resolved_model_redacts_secrets() {
    let m = load(&description(CRYPTED, SSH)).unwrap();
    let dump = serde_json::to_string(&m).unwrap();
    for secret in [HTTP, SSH, BECOME, URL, CRYPTED, VAULTED] {
        assert!(!dump.contains(secret), "`hadeploy dump` shows {secret}");
    }
}

#[test]
fn encrypted_vars_are_written_in_vault_form() {
    let p = project(SSH);
    let vars = file(&p, "group_vars/all.yml");
    let block: String = VAULT.lines().map(|l| format!("  {l}\n")).collect();
    assert!(
        vars.contains(&format!("\"vault_ssh_password\": !vault |\n{block}")),
        "{vars}"
    );
    assert!(
        vars.contains(&format!("\"vault_plain_form\": !vault |\n{block}")),
        "{vars}"
    );
}

#[test]
fn a_vault_reference_keeps_the_inventory_clear() {
    let p = project("{{ vault_ssh_password }}");
    assert!(file(&p, "inventory.yml").contains("ansible_password: \"{{ vault_ssh_password }}\""));
    assert_eq!(holding(&p, SSH), Vec::<String>::new());
}

#[test]
fn clear_user_passwords_and_misplaced_vault_values_are_refused() {
    let e = load(&description(USER, SSH)).unwrap_err().to_string();
    assert!(e.contains("invalid `password`: it is not crypted"), "{e}");
    let e = load(&format!(
        "hosts:\n- name: h1\n  ssh_password: !vault |\n    {}\n",
        VAULT.replace('\n', "\n    ")
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("a `!vault` value is only read in `encrypted_vars`"), "{e}");
    let e = load("hosts: [{name: h}]\nencrypted_vars:\n  x: clear\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not an Ansible Vault value"), "{e}");
    let e = load("hosts: [{name: h}]\nvars: {x: 1}\nencrypted_vars:\n  x: \"$ANSIBLE_VAULT;1.1;AES256\\n6162\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("duplicate variable `x`"), "{e}");
}

#[test]
fn files_holding_credentials_are_not_world_readable() {
    let p = project(SSH);
    let vars = yaml_tree(&file(&p, "vars/hadeploy.yml"));
    let entry = |list: &str, dest: &str| -> Value {
        vars[list]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["dest"] == json!(dest)).cloned())
            .unwrap_or_else(|| panic!("no {dest} in {list}"))
    };
    // supervisord.conf holds the web password's hash: root and the instance's group only.
    let conf = entry("hadeploy_supervisor_files", "/etc/supervisord_sv.conf");
    assert_eq!(
        (&conf["owner"], &conf["group"], &conf["mode"]),
        (&json!("root"), &json!("app"), &json!("0640"))
    );
    // Program files (commands, environments): the instance's account and group only.
    let prg = entry("hadeploy_supervisor_program_files", "/etc/supervisord_sv.d/p_prg.ini");
    assert_eq!((&prg["owner"], &prg["mode"]), (&json!("app"), &json!("0640")));
    // The control socket: the instance's account only.
    let conf = file(&p, "files/supervisors/sv/supervisord.conf");
    assert!(conf.contains("\nchmod=0700\nchown=app:app\n"), "{conf}");
    // The working folder: its owner only.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("project");
    hadeploy_codegen::write(&p, &out).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the project folder is {mode:o}");
    }
}

#[test]
fn tasks_that_handle_secrets_log_nothing_of_them() {
    let p = project(SSH);
    let mut read = 0;
    for (path, bytes) in p.iter().filter(|(p, _)| p.contains("/roles/") && p.ends_with(".yml")) {
        let text = String::from_utf8_lossy(bytes.as_bytes().unwrap_or_default());
        read += 1;
        for task in text.split("\n- name: ").skip(1) {
            let title = task.lines().next().unwrap_or_default();
            let secret = task.contains("password:") || task.contains("url_password");
            if secret {
                assert!(
                    task.contains("no_log: "),
                    "{path}: task `{title}` handles a secret without no_log"
                );
            }
        }
    }
    assert!(read >= 10, "only {read} role files read");
}

/// `-v` shows nothing of the inputs' secrets: the task that reads them
/// logs nothing (Ansible would print every value it read).
#[test]
fn reading_the_inputs_prints_none_of_their_secrets() {
    let Some(playbook) = venv_bin("ansible-playbook") else {
        return;
    };
    let p = project(SSH);
    assert!(
        file(&p, "vars/hadeploy.yml").contains(URL),
        "the inputs hold the download password"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("project");
    hadeploy_codegen::write(&p, &out).unwrap();
    let pass = tmp.path().join("vault-pass");
    std::fs::write(&pass, format!("{VAULT_PASSWORD}\n")).unwrap();
    let o = Command::new(playbook)
        .args([
            "status.yml",
            "-v",
            "-c",
            "local",
            "--tags",
            "hadeploy-no-such-tag",
            "--vault-password-file",
        ])
        .arg(&pass)
        .current_dir(&out)
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{said}");
    assert!(said.contains("TASK [Read the roles' inputs]"), "{said}");
    for secret in [URL, VAULTED] {
        assert!(!said.contains(secret), "-v printed a secret:\n{said}");
    }
}

fn venv_bin(tool: &str) -> Option<PathBuf> {
    let p = PathBuf::from("/var/tmp/hadeploy-venv/bin").join(tool);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide /var/tmp/hadeploy-venv (see .ci/run)"
    );
    eprintln!("SKIPPED: no /var/tmp/hadeploy-venv (bash tests/setup-venv.sh)");
    None
}

/// Ansible decrypts the vault value at run time, through the reference in
/// the inventory: the project works with the secret never in clear.
#[test]
fn ansible_decrypts_encrypted_vars_at_run_time() {
    let Some(playbook) = venv_bin("ansible-playbook") else {
        return;
    };
    let p = project("{{ vault_ssh_password }}");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("project");
    hadeploy_codegen::write(&p, &out).unwrap();
    let pass = tmp.path().join("vault-pass");
    std::fs::write(&pass, format!("{VAULT_PASSWORD}\n")).unwrap();
    std::fs::write(
        out.join("check.yml"),
        "- hosts: h1\n  gather_facts: false\n  connection: local\n  tasks:\n\
         \x20   - ansible.builtin.debug:\n        msg: \"password={{ ansible_password }} plain={{ vault_plain_form }}\"\n",
    )
    .unwrap();
    let o = Command::new(playbook)
        .arg("check.yml")
        .arg("--vault-password-file")
        .arg(Path::new(&pass))
        .current_dir(&out)
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout.contains(&format!("password={VAULTED} plain={VAULTED}")),
        "{stdout}"
    );
}

#[test]
fn the_web_password_hash_is_never_shown_in_a_diff() {
    let p = project(SSH);
    let vars = yaml_tree(&file(&p, "vars/hadeploy.yml"));
    let files = vars["hadeploy_supervisor_files"].as_array().unwrap();
    // yaml_tree reads every scalar as a string.
    let secret: Vec<&Value> = files.iter().filter(|f| f["secret"] == json!("true")).collect();
    // Only the configuration that holds the hash.
    assert_eq!(secret.len(), 1, "{files:?}");
    assert_eq!(secret[0]["dest"], json!("/etc/supervisord_sv.conf"));
    assert!(file(&p, &format!("files/{}", secret[0]["src"].as_str().unwrap())).contains("password={SHA}"));
    // The role's action plugin keeps a secret file's content out of the
    // diff (tests/module: `a_secret_file_s_content_stays_out_of_the_diff`,
    // and scenario 4 on real hosts): the deploy hands it every file.
    let tasks = file(
        &p,
        "collections/ansible_collections/hadeploy/supervisor/roles/hadeploy_supervisor/tasks/instances.yml",
    );
    assert!(
        tasks.contains("sources: [hadeploy_supervisor_files, hadeploy_supervisor_program_files]"),
        "{tasks}"
    );
}

/// The roles' inputs read the description's variables from
/// `hadeploy_vars` where the play has none of their names, as an estate's
/// play that reads the inputs alone (docs/generated-project.md): a
/// variable's expression, a path's, an encrypted variable through a
/// filter; and none of their names is set in the play.
#[test]
fn the_inputs_alone_give_the_description_s_variables_to_ansible() {
    let Some(playbook) = venv_bin("ansible-playbook") else {
        return;
    };
    let vault: String = VAULT.lines().map(|l| format!("    {l}\n")).collect();
    let text = format!(
        r#"
hosts: [{{ name: h1, ssh_host: 127.0.0.1 }}]
vars:
  base: /opt/shop
  app_home: "{{{{ base }}}}/app"
encrypted_vars:
  vault_pw: !vault |
{vault}users:
- {{ login: app, comment: "{{{{ vault_pw | b64encode }}}}" }}
folders:
- {{ path: "{{{{ app_home }}}}/logs", owner: app, group: app, mode: "0755" }}
- {{ path: "/srv/{{{{ inventory_hostname }}}}", owner: app, group: app, mode: "0755" }}
"#
    );
    let model = load(&text).unwrap_or_else(|d| panic!("{d}"));
    let p = render(&model, &Options::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("inputs.yml"), file(&p, "vars/hadeploy.yml")).unwrap();
    let pass = tmp.path().join("vault-pass");
    std::fs::write(&pass, format!("{VAULT_PASSWORD}\n")).unwrap();
    std::fs::write(
        tmp.path().join("estate.yml"),
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n\
         \x20   - ansible.builtin.include_vars: inputs.yml\n\
         \x20   - ansible.builtin.debug:\n        msg: \"{{ hadeploy_base_folders | map(attribute='path') | join(' ') }} \
         comment={{ hadeploy_base_users[0].comment }}\"\n\
         \x20   - ansible.builtin.assert:\n        that: [base is not defined, app_home is not defined, vault_pw is not defined]\n",
    )
    .unwrap();
    let o = Command::new(playbook)
        .args(["estate.yml", "-i", "localhost,", "-c", "local", "--vault-password-file"])
        .arg(&pass)
        .current_dir(tmp.path())
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    // base64 of VAULTED.
    let b64 = "UzNjcjN0LWZyb20tdmF1bHQ=";
    assert!(
        stdout.contains(&format!("/opt/shop/app/logs /srv/localhost comment={b64}")),
        "{stdout}"
    );
}
