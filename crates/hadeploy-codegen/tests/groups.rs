//! A group may be named like one of its programs, as supervisord and
//! HADeploy accept: the files generated read back by supervisor's own
//! parser as that group holding those programs.

use std::path::PathBuf;

mod common;

use hadeploy_codegen::{Options, render};
use hadeploy_model::SrcArg;

fn load(text: &str) -> Result<hadeploy_model::Model, String> {
    hadeploy_model::load(&[SrcArg::Text {
        path: PathBuf::from("/nonexistent/app.yml"),
        text: text.into(),
    }])
    .map_err(|d| d.to_string())
}

const PROGRAMS: &str = "hosts: [{ name: en1 }]\nsupervisors: [{ name: sv, scope: all, user: u, group: g }]\n\
    supervisor_programs:\n- { name: web, supervisor: sv, command: /bin/sleep 100 }\n\
    - { name: worker, supervisor: sv, command: /bin/sleep 100 }\n";

#[test]
fn a_group_named_like_one_of_its_programs_is_what_supervisord_reads() {
    let model = load(&format!(
        "{PROGRAMS}supervisor_groups:\n- {{ name: web, supervisor: sv, programs: [web, worker] }}\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let project = render(&model, &Options::default()).unwrap();
    let files = project
        .iter()
        .filter_map(|(path, c)| Some((path.strip_prefix("files/supervisors/sv/programs/")?, c.as_bytes()?)));
    let print = "for g in sorted(o.process_group_configs, key=lambda g: g.name):\n    \
                 print(g.name, sorted(p.name for p in g.process_configs))";
    let Some(read) = common::supervisor_reads(files, print) else {
        return;
    };
    assert_eq!(read, "web ['web', 'worker']\n");
}

#[test]
fn a_group_named_like_a_program_that_stands_alone_is_refused() {
    let e = load(&format!(
        "{PROGRAMS}supervisor_groups:\n- {{ name: web, supervisor: sv, programs: [worker] }}\n"
    ))
    .unwrap_err();
    assert!(e.contains("duplicate program or group name `web`"), "{e}");
    assert!(e.contains("runs a program of that name in no group"), "{e}");
    // In another group, the program is not a process group of its own.
    load(&format!(
        "{PROGRAMS}supervisor_groups:\n- {{ name: web, supervisor: sv, programs: [worker] }}\n- {{ name: api, supervisor: sv, programs: [web] }}\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
}
