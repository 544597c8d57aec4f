//! `authorized_keys` against OpenSSH's own reader: every line hadeploy
//! accepts, `ssh-keygen -l -f` reads as a public key, and lines it refuses
//! are refused by hadeploy too.

use std::path::Path;
use std::process::Command;

use hadeploy_model::SrcArg;

fn ssh_keygen() -> bool {
    let ok = Command::new("ssh-keygen").arg("-?").output().is_ok();
    assert!(ok || std::env::var_os("CI").is_none(), "CI must provide ssh-keygen");
    if !ok {
        eprintln!("SKIPPED: no ssh-keygen (Debian's openssh-client)");
    }
    ok
}

/// Whether `ssh-keygen -l -f` reads the one line as a public key.
fn openssh_reads(dir: &Path, line: &str) -> bool {
    let f = dir.join("probe.pub");
    std::fs::write(&f, format!("{line}\n")).unwrap();
    Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(&f)
        .output()
        .unwrap()
        .status
        .success()
}

fn load_keys(dir: &Path, file: &str) -> Result<Vec<String>, String> {
    let text = format!("hosts: [{{name: h}}]\nusers:\n- {{ login: app, authorized_keys: [{file}] }}\n");
    hadeploy_model::load(&[SrcArg::Text {
        path: dir.join("app.yml"),
        text,
    }])
    .map(|m| m.users[0].authorized_keys.clone())
    .map_err(|d| d.to_string())
}

#[test]
fn accepted_keys_are_what_openssh_reads_and_the_rest_is_refused() {
    if !ssh_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for (kind, bits) in [("ed25519", None), ("rsa", Some("2048")), ("ecdsa", Some("256"))] {
        let key = dir.path().join(format!("id_{kind}"));
        let mut cmd = Command::new("ssh-keygen");
        cmd.args(["-q", "-N", "", "-C", "app@test", "-t", kind, "-f"]).arg(&key);
        if let Some(b) = bits {
            cmd.args(["-b", b]);
        }
        assert!(cmd.status().unwrap().success());
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let public = public.trim().to_string();
        lines.push(public.clone());
        lines.push(format!("no-pty,from=\"10.0.0.0/8\",command=\"echo a b\" {public}"));
        // The private key itself: its own message.
        let e = load_keys(dir.path(), &format!("id_{kind}")).unwrap_err();
        assert!(e.contains("is a private key") && e.contains("give its `.pub`"), "{e}");
        assert!(!e.contains("PRIVATE KEY-----"), "{e}");
    }
    let file = dir.path().join("team.pub");
    std::fs::write(&file, format!("# the team\n\n{}\n", lines.join("\n"))).unwrap();
    let keys = load_keys(dir.path(), "team.pub").unwrap();
    assert_eq!(keys, lines);
    for line in &keys {
        assert!(
            openssh_reads(dir.path(), line),
            "ssh-keygen refuses what hadeploy accepted: {line}"
        );
    }
    // Broken lines: OpenSSH refuses each, and so does hadeploy, by line number.
    let good = &lines[0];
    let (kind, rest) = good.split_once(' ').unwrap();
    let b64 = rest.split(' ').next().unwrap();
    for bad in [
        format!("{kind} {}", &b64[..b64.len() - 8]),
        format!("ssh-rsa {b64}"),
        kind.to_string(),
        "root:$y$j9T$abc:19000:0:99999:7:::".to_string(),
    ] {
        assert!(!openssh_reads(dir.path(), &bad), "ssh-keygen reads {bad}");
        std::fs::write(&file, format!("{good}\n{bad}\n")).unwrap();
        let e = load_keys(dir.path(), "team.pub").unwrap_err();
        assert!(
            e.contains("line 2 of") && e.contains("is not an OpenSSH public key"),
            "{e}"
        );
        // (The key type alone is named by the help line too.)
        assert!(bad == kind || !e.contains(&bad), "the refused line is not shown: {e}");
    }
}
