//! The loader's limits on hostile input: each one ends in a clear error at
//! a position (never a panic, a stack overflow, unbounded memory or a
//! hang), and inputs that are merely large load in work proportional to
//! their size. Assertions count (errors found, errors omitted), they do not
//! time: an input that made the loader quadratic again would make its test
//! run for hours instead of a fraction of a second.

use std::fmt::Write as _;
use std::path::Path;

use hadeploy_model::{
    Diagnostics, MAX_DEPTH, MAX_ERRORS, MAX_FILES, MAX_INCLUDE_DEPTH, MAX_NODES, MAX_PLACEMENTS, MAX_SCALAR, Model,
    SrcArg,
};

fn load(text: String) -> Result<Model, Diagnostics> {
    hadeploy_model::load(&[SrcArg::Text {
        path: "/nonexistent-hadeploy-limits/app.yml".into(),
        text,
    }])
}

/// The errors of a description that must fail, as text.
fn error(text: String) -> String {
    let d = load(text).expect_err("must be refused");
    for e in &d.errors {
        assert!(e.span.is_some(), "every limit names a position: {e:?}");
    }
    d.to_string()
}

#[test]
fn deep_nesting_stops_at_the_limit() {
    let deep = format!("hosts: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let e = error(deep);
    // The parser's own guard may speak first.
    assert!(
        e.contains(&format!("nested more than {MAX_DEPTH} levels deep")) || e.contains("recursion limit exceeded"),
        "{e}"
    );
    let e = error(format!(
        "hosts: {}{}
",
        "[".repeat(MAX_DEPTH + 1),
        "]".repeat(MAX_DEPTH + 1)
    ));
    assert!(e.contains(&format!("nested more than {MAX_DEPTH} levels deep")), "{e}");
}

#[test]
fn variables_cannot_nest_values_past_the_limit() {
    // Each variable holds the previous one a level deeper: 200 levels in all.
    let mut t = String::from("vars:\n  v0: x\n");
    for i in 1..200 {
        let _ = writeln!(t, "  v{i}: ['${{v{}}}']", i - 1);
    }
    let e = error(t);
    assert!(
        e.contains("nested more than 64 levels deep (variables included)"),
        "{e}"
    );
}

#[test]
fn billion_laughs_of_aliases_is_refused() {
    let mut t = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        .windows(2)
        .map(|w| (w[0], w[1]))
    {
        let _ = writeln!(t, "{name}: &{name} [{}]", vec![format!("*{prev}"); 10].join(","));
    }
    let e = error(t);
    assert!(e.contains(&format!("expands to more than {MAX_NODES} values")), "{e}");
}

#[test]
fn aliases_of_a_long_value_are_paid_by_the_byte() {
    // 20 000 aliases of a 512 KiB scalar would be 10 GiB once copied.
    let t = format!(
        "a: &a '{}'\nb: [{}]\n",
        "x".repeat(512 << 10),
        vec!["*a"; 20_000].join(",")
    );
    let e = error(t);
    assert!(e.contains("values add up to more than 64 MiB"), "{e}");
}

#[test]
fn nested_anchors_are_paid_for() {
    // Each anchor keeps a copy of what it names: 60 nested anchors over a
    // long list would copy it 60 times.
    let mut v = format!("[{}]", vec!["x"; 100_000].join(","));
    for i in 0..60 {
        v = format!("&n{i} [{v}]");
    }
    let e = error(format!("a: {v}\n"));
    assert!(e.contains(&format!("expands to more than {MAX_NODES} values")), "{e}");
}

#[test]
fn variables_cannot_build_a_huge_string() {
    // Each level repeats the previous ten times: 10^11 bytes at the end.
    let mut t = String::from("vars:\n  a0: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
    for i in 1..10 {
        let _ = writeln!(t, "  a{i}: '{}'", format!("${{a{}}}", i - 1).repeat(10));
    }
    let e = error(t);
    assert!(
        e.contains(&format!(
            "a value is longer than {MAX_SCALAR} bytes once variables are substituted"
        )),
        "{e}"
    );
}

#[test]
fn a_huge_scalar_is_refused() {
    let e = error(format!("hosts: [{{name: '{}'}}]\n", "x".repeat(MAX_SCALAR + 1)));
    assert!(e.contains(&format!("a value is longer than {MAX_SCALAR} bytes")), "{e}");
}

#[test]
fn a_map_with_many_keys_costs_its_size() {
    // 100 000 unknown keys in one item: every one is found (the count is
    // exact), 50 are shown. Merging repeated keys used to be quadratic.
    let mut t = String::from("hosts:\n- name: h\n");
    for i in 0..100_000 {
        let _ = writeln!(t, "  k{i}: v");
    }
    let d = load(t).unwrap_err();
    assert_eq!((d.errors.len(), d.errors.len() + d.omitted), (MAX_ERRORS, 100_000));
}

#[test]
fn many_top_level_keys_and_repeated_sections_merge_in_one_pass() {
    let mut t = String::new();
    for i in 0..20_000 {
        let _ = writeln!(t, "k{i}: v\nhosts: [{{name: h{i}}}]");
    }
    let d = load(t).unwrap_err();
    assert_eq!(d.errors.len() + d.omitted, 20_000, "one unknown section per `k` key");
    let hosts: String = (0..20_000).map(|i| format!("hosts: [{{name: h{i}}}]\n")).collect();
    assert_eq!(load(hosts).unwrap().hosts.len(), 20_000);
}

#[test]
fn members_of_a_large_map_variable_are_found_directly() {
    let n = 50_000;
    let mut t = String::from("vars:\n  m:\n");
    for i in 0..n {
        let _ = writeln!(t, "    k{i}: h{i}");
    }
    t.push_str("hosts:\n");
    for i in 0..n {
        let _ = writeln!(t, "- name: '${{m.k{i}}}'");
    }
    assert_eq!(load(t).unwrap().hosts.len(), n);
}

#[test]
fn many_undefined_variables_are_all_counted() {
    let n = 20_000;
    let mut t = String::from("vars:\n");
    for i in 0..n {
        let _ = writeln!(t, "  v{i}: x");
    }
    t.push_str("hosts:\n");
    for i in 0..n {
        let _ = writeln!(t, "- name: '${{u{i}}}'");
    }
    let d = load(t).unwrap_err();
    assert_eq!(d.errors.len() + d.omitted, n);
}

#[test]
fn unclosed_markers_are_read_once() {
    // `<<` without `>>` is text; `${` starts a Jinja expression, as in
    // HADeploy: unclosed, it is an error, found at once.
    let v = "<<".repeat(MAX_SCALAR / 4);
    let m = load(format!("hosts: [{{name: h, ssh_user: '{v}'}}]\n")).unwrap();
    assert_eq!(m.hosts["h"].ssh_user.as_deref(), Some(v.as_str()));
    for v in [
        "${".repeat(MAX_SCALAR / 8),
        format!("a{}", "${".repeat(20_000)),
        "<<".repeat(MAX_SCALAR / 8) + ">>",
    ] {
        let e = error(format!("hosts: [{{name: h, ssh_user: '{v}'}}]\n"));
        assert!(e.contains("cannot render this value"), "{}", &e[..e.len().min(300)]);
    }
}

/// Jinja expressions cannot make a value grow or run without bound.
#[test]
fn jinja_expressions_are_bounded() {
    let deep = format!("${{ {}1{} }}", "(".repeat(5_000), ")".repeat(5_000));
    let lines = "${ 1 }\n".repeat(70_000);
    // Constant folding and the parser's recursion run before any fuel is
    // counted: a 2.6 KB sum once took minutes, deep unary minus overflowed.
    let sum = format!("${{ {}1 }}", "1+".repeat(1_300));
    let minus = format!("${{ {}1 }}", "-".repeat(3_000));
    let members = format!("${{ x{} }}", ".a".repeat(2_000));
    for v in [
        sum,
        minus,
        members,
        "${ 'a' * 100000000 }".to_string(),
        "%{ for i in range(100000000) }x%{ endfor }".to_string(),
        "%{ for i in range(1000) }%{ for j in range(1000) }x%{ endfor }%{ endfor }".to_string(),
        deep,
        lines,
    ] {
        let e = error(format!(
            "hosts: [{{name: h}}]\nusers: [{{login: app, comment: {v:?}}}]\n"
        ));
        assert!(
            e.contains("cannot render this value") || e.contains("longer than") || e.contains("operators"),
            "{}",
            &e[..e.len().min(400)]
        );
    }
}

#[test]
fn long_include_chains_stop_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..MAX_INCLUDE_DEPTH + 10 {
        std::fs::write(
            dir.path().join(format!("f{i}.yml")),
            format!("include: f{}.yml\n", i + 1),
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join(format!("f{}.yml", MAX_INCLUDE_DEPTH + 10)),
        "hosts: [{name: h}]\n",
    )
    .unwrap();
    let d = hadeploy_model::load(&[SrcArg::File(dir.path().join("f0.yml"))]).unwrap_err();
    let e = d.to_string();
    assert!(
        e.contains(&format!(
            "includes are nested more than {MAX_INCLUDE_DEPTH} levels deep"
        )),
        "{e}"
    );
    assert_eq!(d.errors.len(), 1);
}

#[test]
fn a_file_included_again_and_again_stops_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.yml"), "# nothing\n").unwrap();
    let list = vec!["empty.yml"; 100_000].join(", ");
    std::fs::write(dir.path().join("app.yml"), format!("include: [{list}]\n")).unwrap();
    let d = hadeploy_model::load(&[SrcArg::File(dir.path().join("app.yml"))]).unwrap_err();
    assert_eq!(d.errors.len(), 1, "said once:\n{d}");
    assert!(
        d.to_string().contains(&format!("reads more than {MAX_FILES} files")),
        "{d}"
    );
}

#[test]
fn endless_and_oversized_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yml");
    std::fs::write(&big, vec![b'#'; (16 << 20) + 1]).unwrap();
    for (path, why) in [
        (Path::new("/dev/zero"), "it is a device, not a regular file"),
        (big.as_path(), "larger than 16 MiB"),
    ] {
        if !path.exists() {
            continue;
        }
        let text = format!("include: {}\n", path.display());
        let e = error(text);
        assert!(e.contains(why), "{e}");
    }
    let inv = "hosts: [{name: h}]\nansible_inventories: [{file: /dev/zero}]\n".to_string();
    if Path::new("/dev/zero").exists() {
        assert!(error(inv).contains("it is a device"));
    }
}

/// A FIFO, standard input or an open pipe would block the loader for ever:
/// each is refused before it is opened for reading.
#[cfg(unix)]
#[test]
fn pipes_and_standard_input_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.yml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let e = error(format!("include: {}\n", fifo.display()));
    assert!(e.contains("it is a FIFO (named pipe), not a regular file"), "{e}");
    let e = error(
        "hosts: [{name: h}]\nansible_inventories: [{file: fifo.yml}]\n"
            .replace("fifo.yml", &fifo.display().to_string()),
    );
    assert!(e.contains("FIFO"), "{e}");
}

#[test]
fn a_long_chain_of_host_groups_does_not_overflow_the_stack() {
    let n = 30_000;
    let mut t = String::from("hosts: [{name: h}]\nhost_groups:\n");
    for i in 0..n {
        let _ = writeln!(t, "- {{name: g{i}, groups: [g{}]}}", i + 1);
    }
    let _ = writeln!(t, "- {{name: g{n}, hosts: [h]}}");
    t.push_str("folders: [{path: /opt/x, scope: g0, owner: u, group: u, mode: '0755'}]\n");
    let m = load(t).unwrap();
    assert_eq!(m.host_groups["g0"].hosts, ["h"]);
}

#[test]
fn diamonds_of_host_groups_are_flattened_once() {
    // Each level holds both groups of the next: walked path by path, 2^40.
    let mut t = String::from("hosts: [{name: h}, {name: k}]\nhost_groups:\n");
    for i in 0..40 {
        let _ = writeln!(
            t,
            "- {{name: a{i}, groups: [a{n}, b{n}]}}\n- {{name: b{i}, groups: [a{n}, b{n}]}}",
            n = i + 1
        );
    }
    t.push_str("- {name: a40, hosts: [h]}\n- {name: b40, hosts: [k]}\n");
    let m = load(t).unwrap();
    assert_eq!(m.host_groups["a0"].hosts, ["h", "k"]);
}

#[test]
fn host_group_cycles_are_reported_once_each() {
    let e = error("hosts: [{name: h}]\nhost_groups:\n- {name: c, groups: [a]}\n- {name: a, groups: [b]}\n- {name: b, groups: [c]}\n- {name: s, groups: [s]}\n".into());
    assert!(e.contains("host group `a` contains itself (a -> b -> c -> a)"), "{e}");
    assert!(e.contains("host group `s` contains itself (s -> s)"), "{e}");
    assert!(e.contains("the description has 2 errors"), "{e}");
}

#[test]
fn placements_on_hosts_are_bounded() {
    // 3 000 hosts and 1 000 folders everywhere: 3 million placements.
    let mut t = String::from("hosts:\n");
    for i in 0..3_000 {
        let _ = writeln!(t, "- name: h{i}");
    }
    t.push_str("folders:\n");
    for i in 0..1_000 {
        let _ = writeln!(t, "- {{path: /opt/d{i}, owner: u, group: u, mode: '0755'}}");
    }
    let d = load(t).unwrap_err();
    assert_eq!(d.errors.len(), 1, "said once:\n{d}");
    assert!(
        d.to_string()
            .contains(&format!("places more than {MAX_PLACEMENTS} items on hosts"))
    );
}

#[test]
fn processes_count_as_placements() {
    // Ten hosts: a thousand processes of 210 programs on each.
    let hosts: Vec<String> = (0..10).map(|i| format!("{{name: h{i}}}")).collect();
    let mut t = format!(
        "hosts: [{}]\nsupervisors: [{{name: s, scope: all, user: u, group: u}}]\nsupervisor_programs:\n",
        hosts.join(", ")
    );
    for i in 0..210 {
        let _ = writeln!(t, "- {{name: p{i}, supervisor: s, command: x, numprocs: 1000}}");
    }
    let d = load(t).unwrap_err();
    assert!(
        d.to_string()
            .contains(&format!("places more than {MAX_PLACEMENTS} items on hosts"))
    );
}

#[test]
fn many_supervisors_programs_and_mistakes_are_checked_by_name() {
    // Each mistake against 10 000 names: suggestions are looked for only
    // while errors are still shown, names are found by index.
    let n = 10_000;
    let mut t = String::from("hosts: [{name: h}]\nsupervisors:\n");
    for i in 0..n {
        let _ = writeln!(t, "- {{name: s{i}, scope: all, user: u, group: u}}");
    }
    t.push_str("supervisor_programs:\n");
    for i in 0..n {
        let _ = writeln!(
            t,
            "- {{name: p, supervisor: s{i}, command: x}}\n- {{name: p, supervisor: t{i}, command: x}}"
        );
    }
    let d = load(t).unwrap_err();
    assert_eq!(d.errors.len() + d.omitted, n, "one unknown supervisor per `t` program");
}
