//! HADeploy's loading rules, one by one, on descriptions held in memory.

use hadeploy_model::{Model, SrcArg, State};

const BASE: &str = "hosts: [{name: en1}, {name: en2}]\n";

fn text(t: &str) -> SrcArg {
    SrcArg::Text {
        path: "mem.yml".into(),
        text: t.to_string(),
    }
}

fn load(srcs: &[SrcArg]) -> Model {
    hadeploy_model::load(srcs).unwrap_or_else(|d| panic!("{d}"))
}

fn error(srcs: &[SrcArg]) -> String {
    hadeploy_model::load(srcs).expect_err("must be rejected").to_string()
}

fn sup(extra: &str) -> String {
    format!("supervisors:\n- {{ name: s, scope: all, user: u, group: u{extra} }}\n")
}

#[test]
fn repeated_keys_and_documents_merge_lists_append() {
    let m = load(&[text(&format!(
        "{BASE}{}supervisor_programs: [{{name: a, supervisor: s, command: x}}]\n\
         supervisor_programs: [{{name: b, supervisor: s, command: x}}]\n---\n\
         supervisor_programs: [{{name: c, supervisor: s, command: x}}]\n",
        sup("")
    ))]);
    let names: Vec<_> = m.supervisors[0].programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn sources_merge_in_order_and_scalars_take_the_last_value() {
    let m = load(&[text(BASE), text("exit_on_fail: yes\n"), text("exit_on_fail: no\n")]);
    assert!(!m.exit_on_fail);
    assert_eq!(m.hosts.len(), 2);
}

#[test]
fn substitution_is_one_pass_in_load_order() {
    let m = load(&[text(&format!(
        "{BASE}vars: {{ st: stopped }}\n{}supervisor_programs:\n- {{ name: a, supervisor: s, command: x, state: '${{st}}' }}\n\
         vars: {{ st: started }}\nsupervisor_programs:\n- {{ name: b, supervisor: s, command: x, state: '${{st}}' }}\n",
        sup("")
    ))]);
    let states: Vec<_> = m.supervisors[0].programs.iter().map(|p| p.state).collect();
    assert_eq!(
        states,
        [State::Stopped, State::Started],
        "a later definition does not reach back"
    );
}

#[test]
fn unquoted_substitutions_are_typed_and_quoted_ones_stay_strings() {
    let m = load(&[text(&format!("{BASE}vars: {{ m: no }}\n{}", sup(", managed: <<m>>")))]);
    assert!(!m.supervisors[0].managed);
    let e = error(&[text(&format!("{BASE}vars: {{ m: no }}\n{}", sup(", managed: '<<m>>'")))]);
    assert!(e.contains("found the string \"no\""), "{e}");
}

#[test]
fn command_line_variables_come_in_order() {
    let srcs = [
        SrcArg::parse("st=stopped"),
        text(&format!("{BASE}{}", sup(", state: <<st>>"))),
    ];
    assert_eq!(load(&srcs).supervisors[0].state, State::Stopped);
}

#[test]
fn nested_and_whole_map_variables() {
    let m = load(&[text(&format!(
        "{BASE}vars:\n  zk: {{ path: /zk, env: {{ A: '1' }} }}\n{}supervisor_programs:\n\
         - {{ name: a, supervisor: s, command: 'run <<zk.path>>', environment: <<zk.env>> }}\n",
        sup("")
    ))]);
    let p = &m.supervisors[0].programs[0];
    assert_eq!(p.command.as_deref(), Some("run /zk"));
    assert_eq!(p.settings.environment["A"], "1");
}

#[test]
fn ansible_expressions_and_escapes_pass_through() {
    let m = load(&[text(&format!(
        "{BASE}{}supervisor_programs:\n- {{ name: a, supervisor: s, command: 'echo {{{{ x }}}} $${{HOME}} $HOME' }}\n",
        sup("")
    ))]);
    assert_eq!(
        m.supervisors[0].programs[0].command.as_deref(),
        Some("echo {{ x }} ${HOME} $HOME")
    );
}

#[test]
fn when_false_items_are_dropped_before_validation() {
    let m = load(&[text(&format!(
        "{BASE}{}supervisor_programs:\n- {{ name: a, supervisor: nowhere, when: no }}\n",
        sup("")
    ))]);
    assert!(m.supervisors[0].programs.is_empty());
}

#[test]
fn anchors_and_merge_keys() {
    let m = load(&[text(&format!(
        "{BASE}{}supervisor_programs:\n- &p {{ name: a, supervisor: s, command: x, startsecs: 5 }}\n- {{ <<: *p, name: b }}\n",
        sup("")
    ))]);
    let b = &m.supervisors[0].programs[1];
    assert_eq!((b.name.as_str(), b.settings.startsecs), ("b", Some(5)));
}

#[test]
fn host_overrides_priority_and_unset() {
    let m = load(&[text(
        "hosts: [{name: en1, ssh_user: a, ssh_port: 22}]\nhost_overrides:\n\
         - { name: en1, ssh_user: high, priority: 300 }\n- { name: all, ssh_user: low }\n- { name: '*', ssh_port: '' }\n",
    )]);
    let h = &m.hosts["en1"];
    assert_eq!((h.ssh_user.as_deref(), h.ssh_port), (Some("high"), None));
}

#[test]
fn host_groups_compose() {
    let m = load(&[text(
        "hosts: [{name: a}, {name: b}, {name: c}]\nhost_groups:\n- { name: top, groups: [left, right] }\n\
         - { name: left, hosts: [b] }\n- { name: right, hosts: [a] }\n",
    )]);
    assert_eq!(
        m.host_groups["top"].hosts,
        ["a", "b"],
        "inventory order, whatever the composition order"
    );
}

#[test]
fn ansible_inventories_add_hosts_and_groups() {
    let dir = std::env::temp_dir().join(format!("hadeploy-inv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("hosts.ini"),
        "[edges]\nen1 ansible_host=10.0.0.1 ansible_user=tsup foo=bar\n",
    )
    .unwrap();
    let m = load(&[SrcArg::Text {
        path: dir.join("app.yml"),
        text: "ansible_inventories: [{file: hosts.ini}]\n".into(),
    }]);
    std::fs::remove_dir_all(&dir).unwrap();
    let h = &m.hosts["en1"];
    assert_eq!(
        (h.ssh_host.as_deref(), h.ssh_user.as_deref()),
        (Some("10.0.0.1"), Some("tsup"))
    );
    assert_eq!(h.ansible_vars["foo"], "bar");
    assert_eq!(m.host_groups["edges"].hosts, ["en1"]);
}

#[test]
fn web_passwords_are_hashed_and_usernames_default() {
    let m = load(&[text(&format!("{BASE}{}", sup(", http_server: { password: admin }")))]);
    let auth = m.supervisors[0].http_server.as_ref().unwrap().auth.as_ref().unwrap();
    assert_eq!(auth.username, "u");
    assert_eq!(auth.password_sha1, "{SHA}d033e22ae348aeb5660fc2140aec35850c4da997");
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let many: String = (0..80)
        .map(|i| format!("- {{ name: p{i}, supervisor: s, state: bad }}\n"))
        .collect();
    let e = hadeploy_model::load(&[text(&format!("{BASE}{}supervisor_programs:\n{many}", sup("")))]).unwrap_err();
    assert_eq!(e.errors.len(), hadeploy_model::MAX_ERRORS);
    assert!(e.omitted > 0);
    assert!(e.to_string().contains("more not shown"));
}

#[test]
fn host_paths_are_normalised_once_in_the_model() {
    let m = load(&[text(&format!(
        "hosts: [{{ name: en1 }}]\nusers: [{{ login: u }}]\n{}\
         folders: [{{ scope: all, path: \"/opt//app/./data/\", owner: root, group: root, mode: '0755' }}]\n\
         files: [{{ scope: all, src: \"https://example.org/a\", dest_folder: \"/opt/app//\", owner: root, group: root, mode: '0644' }}]\n",
        sup(", logs_dir: /var/log//tsup/, include_dir: /etc/tsup.d/./")
    ))]);
    assert_eq!(m.folders[0].path, "/opt/app/data");
    assert_eq!(m.files[0].dest(), "/opt/app/a");
    assert_eq!(m.supervisors[0].logs_dir, "/var/log/tsup");
    assert_eq!(m.supervisors[0].include_dir, "/etc/tsup.d");
}

/// supervisor drops the spaces around a command before it splits it: a
/// last `\\` that escaped a trailing space then escapes nothing.
#[test]
fn a_command_whose_backslash_escapes_only_trailing_spaces_is_refused() {
    let program = |command: &str| {
        format!(
            "{BASE}{}supervisor_programs:\n- {{ name: p, supervisor: s, command: {command:?} }}\n",
            sup("")
        )
    };
    let e = error(&[text(&program("/bin/echo a\\  "))]);
    assert!(e.contains("escapes nothing"), "{e}");
    load(&[text(&program("/bin/echo a\\ b  "))]);
}
