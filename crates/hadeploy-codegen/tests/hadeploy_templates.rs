//! `conf_file_src` templates written for HADeploy see what HADeploy's own
//! templates saw, and what they render is what supervisord reads.

use std::path::Path;

mod common;

use hadeploy_codegen::{Options, render};
use hadeploy_model::SrcArg;

/// A program template in the way of HADeploy's `program.conf.jj2`: its
/// environment written by a loop over `KEY="value"` items, and the
/// attributes HADeploy added.
const PROGRAM: &str = "\
; {{{ conf_file_dst }}} for {{{ supervisorOwner }}}:{{{ supervisorGroup }}} of {{{ supervisorConf }}}, on {{{ scope }}}
[program:{{{ name }}}]
command={{{ command }}}
{{% if numprocs is defined %}}
numprocs={{{ numprocs }}}
process_name={{{ process_name }}}
{{% endif %}}
autostart={{{ 'true' if autostart else 'false' }}}
{{% if environment is defined %}}
environment={{% for v in environment %}}{{% if not loop.first %}},{{% endif %}}{{{ v }}}{{% endfor %}} ;
{{% endif %}}
; {{{ _name_ }}}
";

fn project(dir: &Path, program: &str) -> Result<hadeploy_codegen::Project, String> {
    std::fs::write(dir.join("p.ini"), PROGRAM).unwrap();
    let text = format!(
        "hosts: [{{ name: en1 }}, {{ name: en2 }}]\nlocal_files_folders: [\".\"]\n\
         supervisors: [{{ name: sv, scope: all, user: u, group: g }}]\nsupervisor_programs:\n{program}"
    );
    let model = hadeploy_model::load(&[SrcArg::Text {
        path: dir.join("app.yml"),
        text,
    }])
    .map_err(|d| d.to_string())?;
    render(&model, &Options::default()).map_err(|e| e.to_string())
}

fn text(project: &hadeploy_codegen::Project, path: &str) -> String {
    String::from_utf8(project[path].as_bytes().unwrap().to_vec()).unwrap()
}

#[test]
fn hadeploy_s_program_template_renders_what_supervisord_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let project = project(
        tmp.path(),
        "- { name: web, supervisor: sv, conf_file_src: \"file://p.ini\", command: \"/bin/sleep 100\", \
         numprocs: 2, environment: [\"JAVA_HOME=/usr/lib/jvm\", 'MY_HOME=\"/opt/my home\"'] }\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let ini = text(&project, "files/supervisors/sv/programs/web_prg.ini");
    assert!(
        ini.starts_with("; /etc/supervisord_sv.d/web_prg.ini for u:g of /etc/supervisord_sv.conf, on all\n"),
        "{ini}"
    );
    assert!(
        ini.contains("environment=JAVA_HOME=\"/usr/lib/jvm\",MY_HOME=\"/opt/my home\" ;\n"),
        "{ini}"
    );
    assert!(ini.contains("; web:\n"), "{ini}");
    let print = "for g in o.process_group_configs:\n    for p in g.process_configs:\n        \
                 print(p.name, sorted(p.environment.items()))";
    let Some(read) = common::supervisor_reads([("web_prg.ini", ini.as_bytes())], print) else {
        return;
    };
    let env = "[('JAVA_HOME', '/usr/lib/jvm'), ('MY_HOME', '/opt/my home')]";
    assert_eq!(read, format!("web_00 {env}\nweb_01 {env}\n"));
}

#[test]
fn an_undefined_attribute_is_named_with_its_line_and_those_that_exist() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("p.ini"),
        "[program:{{{ name }}}]\ncommand={{{ comand }}}\n",
    )
    .unwrap();
    let text = "hosts: [{ name: en1 }]\nlocal_files_folders: [\".\"]\n\
                supervisors: [{ name: sv, scope: all, user: u, group: g }]\nsupervisor_programs:\n\
                - { name: web, supervisor: sv, conf_file_src: \"file://p.ini\", command: /bin/true }\n";
    let model = hadeploy_model::load(&[SrcArg::Text {
        path: tmp.path().join("app.yml"),
        text: text.into(),
    }])
    .unwrap_or_else(|d| panic!("{d}"));
    let e = render(&model, &Options::default()).unwrap_err().to_string();
    assert!(
        e.contains("p.ini") && e.contains("line 2") && e.contains("(`comand`)"),
        "{e}"
    );
    assert!(
        e.contains("the attributes this template sees are: ") && e.contains("command, "),
        "{e}"
    );
}
