//! A supervisor's web interface keeps the credentials the description
//! gives, whatever writes its `supervisord.conf`, and is never opened
//! beyond the host without them unless the description says so.

use hadeploy_codegen::{Options, render};
use hadeploy_model::SrcArg;

/// A `conf_file_src` as HADeploy's own template writes the interface: it
/// reads `http_server.endpoint`, `.username` and `.password`.
const HADEPLOY_STYLE: &str = "\
[unix_http_server]
file=/run/{{{ name }}}.sock
{{% if http_server is defined %}}
[inet_http_server]
port={{{ http_server.endpoint }}}
{{% if http_server.password is defined %}}
username={{{ http_server.username }}}
password={{{ http_server.password }}}
{{% endif %}}
{{% endif %}}
[supervisord]
logfile=/var/log/{{{ name }}}.log
";

/// The project of a supervisor with `http` as its `http_server` (YAML flow
/// text, or nothing) and `template` as its `conf_file_src`; the load's or
/// the render's error otherwise.
fn project(http: Option<&str>, template: &str) -> Result<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("sv.conf"), template).unwrap();
    let http = http.map(|h| format!(", http_server: {h}")).unwrap_or_default();
    let text = format!(
        "hosts: [{{ name: h1 }}]\nlocal_files_folders: [\".\"]\nsupervisors:\n- {{ name: sv, scope: all, user: u, group: g, conf_file_src: \"file://sv.conf\"{http} }}\n"
    );
    let model = hadeploy_model::load(&[SrcArg::Text {
        path: tmp.path().join("app.yml"),
        text,
    }])
    .map_err(|d| d.to_string())?;
    let project = render(&model, &Options::default()).map_err(|e| e.to_string())?;
    Ok(String::from_utf8(
        project["files/supervisors/sv/supervisord.conf"]
            .as_bytes()
            .unwrap()
            .to_vec(),
    )
    .unwrap())
}

#[test]
fn hadeploy_s_template_gets_the_credentials_as_written() {
    let conf = project(
        Some("{ endpoint: \"0.0.0.0:9001\", username: admin, password: admin }"),
        HADEPLOY_STYLE,
    )
    .unwrap();
    assert!(conf.contains("port=0.0.0.0:9001\n"), "{conf}");
    assert!(conf.contains("username=admin\n"), "{conf}");
    // The value hadeploy writes: the password's SHA-1, never the password.
    assert!(
        conf.contains("password={SHA}d033e22ae348aeb5660fc2140aec35850c4da997\n"),
        "{conf}"
    );
}

#[test]
fn a_template_that_drops_the_credentials_is_refused() {
    let dropped = "[inet_http_server]\nport={{{ http_server.endpoint }}}\n[supervisord]\n";
    let e = project(Some("{ endpoint: \"127.0.0.1:9001\", password: admin }"), dropped).unwrap_err();
    assert!(
        e.contains("without the `username` and `password` the description gives"),
        "{e}"
    );
}

#[test]
fn an_interface_open_beyond_the_host_needs_credentials_or_a_word_saying_so() {
    let open = "[inet_http_server]\nport=*:9001 ; every interface\n[supervisord]\n";
    let e = project(None, open).unwrap_err();
    assert!(
        e.contains("opens a web interface on `*:9001` without a user name and password"),
        "{e}"
    );
    // On this host only, it may be open.
    project(None, "[inet_http_server]\nport=127.0.0.1:9001\n").unwrap();
    // The description's own interface: refused where it is loaded.
    let e = project(Some("{ endpoint: \"0.0.0.0:9001\" }"), HADEPLOY_STYLE).unwrap_err();
    assert!(e.contains("would let anyone who reaches the host"), "{e}");
    // Unless it says so.
    let conf = project(
        Some("{ endpoint: \"0.0.0.0:9001\", unauthenticated: yes }"),
        HADEPLOY_STYLE,
    )
    .unwrap();
    assert!(
        conf.contains("port=0.0.0.0:9001\n") && !conf.contains("username"),
        "{conf}"
    );
    project(Some("{ endpoint: \"0.0.0.0:9001\", unauthenticated: yes }"), open).unwrap();
    let e = project(
        Some("{ endpoint: \"0.0.0.0:9001\", unauthenticated: yes, password: x }"),
        open,
    )
    .unwrap_err();
    assert!(e.contains("says `unauthenticated: yes`"), "{e}");
}

#[test]
fn loopback_is_this_host_only() {
    use hadeploy_model::format::endpoint_is_loopback as local;
    for yes in ["127.0.0.1:9001", "127.1.2.3:1", "localhost:9001", "[::1]:9001"] {
        assert!(local(yes), "{yes}");
    }
    for no in [
        "0.0.0.0:9001",
        "*:9001",
        ":9001",
        "10.0.0.1:9001",
        "127.0.0.1.nip.io:9001",
        "{{ ip }}:9001",
    ] {
        assert!(!local(no), "{no}");
    }
}

/// HADeploy's first pass inserts values into a file Ansible renders again:
/// two values side by side, each harmless, form no expression there.
#[test]
fn values_a_template_joins_form_no_ansible_expression() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("p.ini"),
        "[program:{{{ name }}}]\ncommand=/bin/sleep 1 {{{ stdout_logfile }}}{{{ command }}}\n",
    )
    .unwrap();
    let text = "hosts: [{ name: h1 }]\nlocal_files_folders: [\".\"]\n\
                supervisors: [{ name: sv, scope: all, user: u, group: g }]\n\
                supervisor_programs:\n- { name: p, supervisor: sv, conf_file_src: \"file://p.ini\", \
                stdout_logfile: \"/tmp/x{\", command: \"{ lookup('pipe', 'id') }}\" }\n";
    let model = hadeploy_model::load(&[SrcArg::Text {
        path: tmp.path().join("app.yml"),
        text: text.into(),
    }])
    .unwrap_or_else(|d| panic!("{d}"));
    let project = render(&model, &Options::default()).unwrap();
    let ini = String::from_utf8(
        project["files/supervisors/sv/programs/p_prg.ini"]
            .as_bytes()
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(!ini.contains("{{ lookup"), "{ini}");
    assert_eq!(hadeploy_model::expr::expression_problem(&ini), None, "{ini}");
    // The first value's `{` is a literal: Jinja renders it back, alone.
    assert!(ini.contains("{{ '{' }}{ lookup('pipe', 'id') }}"), "{ini}");
}
