//! Hostile strings (quotes, colons, `#`, `;`, `%`, `{%`, `{#`, `$`,
//! backslashes, line breaks, unicode, spaces at either end) in every user
//! value that reaches a generated file. Each case is either refused by the
//! loader, with a position, or rendered into files that carry the value
//! exactly: every YAML file parses and holds the value (Jinja's markers
//! neutralised, which Jinja2 renders back to the value), and supervisor's
//! own parser, after Jinja2 renders the file as Ansible's `template` does,
//! reads back the command, environment, paths and names that were written.
//!
//! `{{` is left out of the random strings: it is Ansible's, on purpose
//! (docs/description.md, "Decisions"), and has a test of its own here.
//! The supervisor checks run in one Python process for every case; without
//! the venv (`bash tests/setup-venv.sh`) they are skipped, except in CI.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use hadeploy_codegen::quote::jinja_literal;
use hadeploy_codegen::{Options, Project, render};
use hadeploy_model::{Model, SrcArg};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

mod common;
use common::yaml_tree;

/// What hostile strings are made of.
const PIECES: &[&str] = &[
    "'",
    "\"",
    ":",
    ": ",
    "#",
    " #",
    ";",
    " ;",
    "%",
    "%%",
    "%(program_name)s",
    "%(process_num)02d",
    "%(ENV_HOME)s",
    "%(nope)s",
    "%(",
    ")",
    "{",
    "}",
    "{%",
    "{#",
    "%}",
    "#}",
    "$",
    "$HOME",
    "\\",
    "\\n",
    "\\\"",
    "\n",
    "\r",
    "\t",
    " ",
    "  ",
    "é",
    "✓",
    "日本",
    "\u{2028}",
    "\u{a0}",
    "\u{feff}",
    "\u{0}",
    "\u{7f}",
    "\u{85}",
    ",",
    "=",
    "[",
    "]",
    "&",
    "*",
    "!",
    "|",
    ">",
    "-",
    "?",
    "@",
    "`",
    "~",
    "yes",
    "null",
    "/",
    "..",
    ".",
    "x=y",
    "--",
    "\u{1F600}",
];

/// `{{` is Ansible's; `${`, `<<`, `$${` and the Jinja2 markers `%{`, `#{`,
/// `%<`, `#<` are the loader's: broken up, so that the value is what the
/// description means literally.
fn literal(mut s: String) -> String {
    const MARKERS: [(&str, &str); 7] = [
        ("{{", "{ {"),
        ("${", "$ {"),
        ("<<", "< <"),
        ("%{", "% {"),
        ("#{", "# {"),
        ("%<", "% <"),
        ("#<", "# <"),
    ];
    while MARKERS.iter().any(|(m, _)| s.contains(m)) {
        for (m, r) in MARKERS {
            s = s.replace(m, r);
        }
    }
    s
}

fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(PIECES).prop_map(str::to_string),
        1 => "[a-z0-9_]{1,4}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|v| literal(v.concat()))
}

/// A YAML double-quoted scalar that any YAML parser reads back as `s`.
fn dq(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}') => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where a value lands, and how to find it there.
#[derive(Clone, Copy)]
enum Land {
    /// `inventory.yml`, under the host's variables.
    Inventory(&'static str),
    /// `group_vars/all.yml`, variable `v`.
    GroupVar,
    /// `vars/hadeploy.yml`: a path in its tree, and the model's value.
    HostVars(&'static [PathStep], fn(&Model) -> String),
    /// The program's INI file: an option as supervisor reads it.
    Program(&'static str),
    /// `supervisord.conf`: section, option, and the value it is written as.
    Supervisord(&'static str, &'static str, fn(&Model) -> String),
}

#[derive(Clone, Copy)]
enum PathStep {
    Key(&'static str),
    Index(usize),
}
use PathStep::{Index, Key};

struct Field {
    name: &'static str,
    /// The description, with the value `v` (already quoted) in place.
    describe: fn(&str) -> String,
    land: Land,
    /// The model's value, when the field is kept as written.
    kept: Option<fn(&Model) -> String>,
}

fn base(host: &str, sup: &str, prog: &str, more: &str) -> String {
    format!(
        "hosts:\n- name: h1\n  ssh_host: \"10.0.0.1\"\n{host}\
         supervisors:\n- name: sv\n  scope: all\n  user: app\n  group: app\n{sup}\
         supervisor_programs:\n- name: p\n  supervisor: sv\n  command: /bin/true\n{prog}{more}"
    )
}

macro_rules! host_attr {
    ($key:literal, $var:literal) => {
        Field {
            name: $key,
            describe: |v| base(&format!("  {}: {v}\n", $key), "", "", ""),
            land: Land::Inventory($var),
            kept: None,
        }
    };
}

fn sup0(m: &Model) -> &hadeploy_model::Supervisor {
    &m.supervisors[0]
}

fn prog0(m: &Model) -> &hadeploy_model::Program {
    &m.supervisors[0].programs[0]
}

const FILE: &str = "files:\n- src: \"https://example.invalid/f\"\n  owner: app\n  group: app\n  mode: \"0644\"\n";

fn fields() -> Vec<Field> {
    vec![
        host_attr!("ssh_host", "ansible_host"),
        host_attr!("ssh_user", "ansible_user"),
        host_attr!("ssh_password", "ansible_password"),
        host_attr!("ssh_extra_args", "ansible_ssh_extra_args"),
        host_attr!("ssh_common_args", "ansible_ssh_common_args"),
        host_attr!("sftp_extra_args", "ansible_sftp_extra_args"),
        host_attr!("scp_extra_args", "ansible_scp_extra_args"),
        host_attr!("ssh_executable", "ansible_ssh_executable"),
        host_attr!("become_method", "ansible_become_method"),
        host_attr!("become_user", "ansible_become_user"),
        host_attr!("become_pass", "ansible_become_password"),
        host_attr!("become_exe", "ansible_become_exe"),
        host_attr!("become_flags", "ansible_become_flags"),
        host_attr!("python_interpreter", "ansible_python_interpreter"),
        Field {
            name: "vars",
            describe: |v| base("", "", "", &format!("vars:\n  v: {v}\n")),
            land: Land::GroupVar,
            kept: None,
        },
        Field {
            name: "user comment",
            describe: |v| base("", "", "", &format!("users:\n- login: app\n  comment: {v}\n")),
            land: Land::HostVars(&[Key("hadeploy_base_users"), Index(0), Key("comment")], |m| {
                m.users[0].comment.clone().unwrap_or_default()
            }),
            kept: Some(|m| m.users[0].comment.clone().unwrap_or_default()),
        },
        Field {
            // Only crypted passwords are accepted: few random values get through.
            name: "user password",
            describe: |v| {
                base(
                    "",
                    "",
                    "",
                    &format!("users:\n- login: app\n  password: \"$6$s$h{}\n", &v[1..]),
                )
            },
            land: Land::HostVars(&[Key("hadeploy_base_users"), Index(0), Key("password")], |m| {
                m.users[0].password.clone().unwrap_or_default()
            }),
            kept: None,
        },
        Field {
            name: "folder path",
            describe: |v| {
                let p = format!("\"/{}", &v[1..]);
                base(
                    "",
                    "",
                    "",
                    &format!("folders:\n- path: {p}\n  owner: app\n  group: app\n  mode: \"0755\"\n"),
                )
            },
            land: Land::HostVars(&[Key("hadeploy_base_folders"), Index(0), Key("path")], |m| {
                m.folders[0].path.clone()
            }),
            kept: None,
        },
        Field {
            name: "file dest_folder",
            describe: |v| base("", "", "", &format!("{FILE}  dest_folder: \"/{}\n", &v[1..])),
            land: Land::HostVars(&[Key("hadeploy_base_files"), Index(0), Key("dest")], |m| {
                m.files[0].dest()
            }),
            kept: None,
        },
        Field {
            name: "file dest_name",
            describe: |v| base("", "", "", &format!("{FILE}  dest_folder: /opt\n  dest_name: {v}\n")),
            land: Land::HostVars(&[Key("hadeploy_base_files"), Index(0), Key("dest")], |m| {
                m.files[0].dest()
            }),
            kept: Some(|m| m.files[0].dest_name.clone()),
        },
        Field {
            name: "file url",
            describe: |v| {
                let file = FILE.replace(
                    "\"https://example.invalid/f\"",
                    &format!("\"https://example.invalid/{}", &v[1..]),
                );
                base("", "", "", &format!("{file}  dest_folder: /opt\n  dest_name: f\n"))
            },
            land: Land::HostVars(&[Key("hadeploy_base_files"), Index(0), Key("url")], |m| {
                match &m.files[0].src {
                    hadeploy_model::FileSource::Url { url, .. } => url.clone(),
                    _ => String::new(),
                }
            }),
            kept: None,
        },
        Field {
            name: "url_username",
            describe: |v| base("", "", "", &format!("{FILE}  dest_folder: /opt\n  url_username: {v}\n")),
            land: Land::HostVars(
                &[Key("hadeploy_base_files"), Index(0), Key("url_username")],
                |m| match &m.files[0].src {
                    hadeploy_model::FileSource::Url { username, .. } => username.clone().unwrap_or_default(),
                    _ => String::new(),
                },
            ),
            kept: None,
        },
        Field {
            name: "url_password",
            describe: |v| base("", "", "", &format!("{FILE}  dest_folder: /opt\n  url_password: {v}\n")),
            land: Land::HostVars(
                &[Key("hadeploy_base_files"), Index(0), Key("url_password")],
                |m| match &m.files[0].src {
                    hadeploy_model::FileSource::Url { password, .. } => password.clone().unwrap_or_default(),
                    _ => String::new(),
                },
            ),
            kept: None,
        },
        Field {
            name: "supervisor logs_dir",
            describe: |v| base("", &format!("  logs_dir: \"/{}\n", &v[1..]), "", ""),
            land: Land::Supervisord("supervisord", "childlogdir", |m| sup0(m).logs_dir.clone()),
            kept: None,
        },
        Field {
            name: "supervisor include_dir",
            describe: |v| base("", &format!("  include_dir: \"/{}\n", &v[1..]), "", ""),
            land: Land::Supervisord("include", "files", |m| format!("{}/*.ini", sup0(m).include_dir)),
            kept: None,
        },
        Field {
            name: "supervisor socks_dir",
            describe: |v| base("", &format!("  socks_dir: \"/{}\n", &v[1..]), "", ""),
            land: Land::Supervisord("unix_http_server", "file", |m| sup0(m).socket.clone()),
            kept: None,
        },
        Field {
            name: "supervisor conf_file_dst",
            describe: |v| base("", &format!("  conf_file_dst: \"/{}\n", &v[1..]), "", ""),
            land: Land::HostVars(&[Key("hadeploy_supervisor_instances"), Index(0), Key("conf")], |m| {
                sup0(m).conf_file_dst.clone()
            }),
            kept: None,
        },
        Field {
            name: "http username",
            describe: |v| {
                base(
                    "",
                    &format!("  http_server:\n    username: {v}\n    password: secret\n"),
                    "",
                    "",
                )
            },
            land: Land::Supervisord("inet_http_server", "username", |m| {
                sup0(m)
                    .http_server
                    .as_ref()
                    .and_then(|h| h.auth.as_ref())
                    .map(|a| a.username.clone())
                    .unwrap_or_default()
            }),
            kept: None,
        },
        Field {
            name: "command",
            describe: |v| base("", "", &format!("  command: {v}\n"), ""),
            land: Land::Program("command"),
            kept: Some(|m| prog0(m).command.clone().unwrap_or_default()),
        },
        Field {
            name: "environment (map)",
            describe: |v| base("", "", &format!("  environment:\n    A: {v}\n"), ""),
            land: Land::Program("environment"),
            kept: Some(|m| prog0(m).settings.environment["A"].clone()),
        },
        Field {
            name: "environment (list)",
            describe: |v| base("", "", &format!("  environment:\n  - \"A={}\n", &v[1..]), ""),
            land: Land::Program("environment"),
            kept: None,
        },
        Field {
            name: "directory",
            describe: |v| base("", "", &format!("  directory: \"/{}\n", &v[1..]), ""),
            land: Land::Program("directory"),
            kept: None,
        },
        Field {
            name: "stdout_logfile",
            describe: |v| base("", "", &format!("  stdout_logfile: \"/{}\n", &v[1..]), ""),
            land: Land::Program("stdout_logfile"),
            kept: None,
        },
        Field {
            name: "stderr_logfile",
            describe: |v| base("", "", &format!("  stderr_logfile: \"/{}\n", &v[1..]), ""),
            land: Land::Program("stderr_logfile"),
            kept: None,
        },
        Field {
            name: "process_name",
            describe: |v| base("", "", &format!("  process_name: {v}\n"), ""),
            land: Land::Program("process_name"),
            kept: None,
        },
    ]
}

fn text(project: &Project, path: &str) -> String {
    String::from_utf8(
        project
            .get(path)
            .unwrap_or_else(|| panic!("no {path}"))
            .as_bytes()
            .unwrap()
            .to_vec(),
    )
    .unwrap()
}

/// The checks left for supervisor's and Jinja2's own code, in Python.
#[derive(Default)]
struct Batch {
    cases: Vec<Value>,
}

fn load(description: &str) -> Result<Model, hadeploy_model::Diagnostics> {
    hadeploy_model::load(&[SrcArg::Text {
        path: "/nonexistent-hadeploy-injection/app.yml".into(),
        text: description.to_string(),
    }])
}

fn one_case(field: &Field, value: &str, batch: &RefCell<Batch>) -> Result<(), TestCaseError> {
    let quoted = dq(value);
    let description = (field.describe)(&quoted);
    let model = match load(&description) {
        Ok(m) => m,
        Err(d) => {
            // Refused: with a position the user can go to.
            prop_assert!(
                d.errors.iter().all(|e| e.span.is_some()),
                "{}: an error without position for {value:?}:\n{d}",
                field.name
            );
            return Ok(());
        }
    };
    if let Some(kept) = field.kept {
        prop_assert_eq!(kept(&model), value, "{}: the loader changed the value", field.name);
    }
    let project = render(&model, &Options::default()).map_err(|e| {
        TestCaseError::fail(format!(
            "{}: {value:?} passes validation but rendering refuses it (it should be refused, with a position, when loaded): {e}",
            field.name
        ))
    })?;
    for (path, content) in &project {
        if let (true, Some(bytes)) = (path.ends_with(".yml"), content.as_bytes()) {
            yaml_tree(std::str::from_utf8(bytes).unwrap());
        }
    }
    let mut b = batch.borrow_mut();
    match field.land {
        Land::Inventory(var) => {
            let tree = yaml_tree(&text(&project, "inventory.yml"));
            let found = &tree["all"]["hosts"]["h1"][var];
            prop_assert_eq!(found, &json!(jinja_literal(value)), "{}: inventory.yml", field.name);
            b.cases
                .push(json!({"kind": "jinja", "name": field.name, "text": found, "expected": value}));
        }
        Land::GroupVar => {
            let tree = yaml_tree(&text(&project, "group_vars/all.yml"));
            prop_assert_eq!(
                &tree["v"],
                &json!(jinja_literal(value)),
                "{}: group_vars/all.yml",
                field.name
            );
            b.cases
                .push(json!({"kind": "jinja", "name": field.name, "text": tree["v"], "expected": value}));
        }
        Land::HostVars(path, expected) => {
            let mut node = yaml_tree(&text(&project, "vars/hadeploy.yml"));
            for step in path {
                node = match step {
                    Key(k) => node[*k].clone(),
                    Index(i) => node[*i].clone(),
                };
            }
            let expected = expected(&model);
            prop_assert_eq!(
                &node,
                &json!(jinja_literal(&expected)),
                "{}: vars/hadeploy.yml",
                field.name
            );
            b.cases
                .push(json!({"kind": "jinja", "name": field.name, "text": node, "expected": expected}));
        }
        Land::Program(option) => {
            let p = prog0(&model);
            let expected = match option {
                "command" => p.command.clone().unwrap_or_default(),
                "environment" => p.settings.environment["A"].clone(),
                "directory" => p.settings.directory.clone().unwrap_or_default(),
                "stdout_logfile" => p.settings.stdout_logfile.clone().unwrap_or_default(),
                "stderr_logfile" => p.settings.stderr_logfile.clone().unwrap_or_default(),
                // The model names processes as supervisor will: they must agree.
                _ => p.processes[0]
                    .split_once(':')
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_default(),
            };
            b.cases.push(json!({
                "kind": "program", "name": field.name, "option": option, "expected": expected,
                "text": text(&project, "files/supervisors/sv/programs/p_prg.ini"),
            }));
        }
        Land::Supervisord(section, option, expected) => {
            b.cases.push(json!({
                "kind": "supervisord", "name": field.name, "section": section, "option": option,
                "expected": expected(&model), "text": text(&project, "files/supervisors/sv/supervisord.conf"),
            }));
        }
    }
    Ok(())
}

const PY: &str = r#"
import sys, json, os, re, shlex, platform
import jinja2
from supervisor.options import UnhosedConfigParser
from supervisor.datatypes import dict_of_key_value_pairs

# Ansible's `template` module: trim_blocks on, the trailing newline dropped.
env = jinja2.Environment(trim_blocks=True)
values = jinja2.Environment(keep_trailing_newline=True)
EXP = {'program_name': 'p', 'group_name': 'p', 'process_num': 0, 'numprocs': 1,
       'host_node_name': platform.node(), 'here': '/etc'}
EXP.update({'ENV_' + k: v for k, v in os.environ.items()})
EXPANSION = re.compile(r'%\((program_name|process_num|group_name|host_node_name|numprocs|here|ENV_\w+)\)[-#0 +.\d]*[diouxXeEfFgGcrsa]')

def expand(s):
    """What supervisor makes of a value written as is: its expansions done."""
    return EXPANSION.sub(lambda m: m.group(0) % EXP, s)

def read(text):
    p = UnhosedConfigParser()
    p.read_string(env.from_string(text).render())
    return p

failures = []
cases = json.load(sys.stdin)
for c in cases:
    try:
        if c['kind'] == 'jinja':
            # Ansible renders a variable only when it holds a marker, and
            # keeps its last line break.
            t = c['text']
            marked = any(m in t for m in ('{{', '{%', '{#'))
            got = values.from_string(t).render() if marked else t
            want = c['expected']
        elif c['kind'] == 'program':
            p = read(c['text'])
            o, want = c['option'], c['expected']
            if o == 'environment':
                got = dict_of_key_value_pairs(p.saneget('program:p', 'environment', expansions=EXP))
                want = {'A': expand(want)}
            elif o == 'command':
                got = shlex.split(p.saneget('program:p', 'command', expansions=EXP))
                want = shlex.split(expand(want))
            elif o == 'process_name':
                got = p.saneget('program:p', 'process_name', expansions=EXP)
            else:
                got = p.saneget('program:p', o, expansions=EXP)
                want = expand(want)
        else:
            p = read(c['text'])
            # Nothing is expanded in supervisord.conf: written as is.
            got = p.saneget(c['section'], c['option'], expansions={'here': '/etc'})
            want = c['expected']
        if got != want:
            failures.append({'case': c, 'got': got, 'want': want})
    except Exception as e:
        failures.append({'case': c, 'error': repr(e)})
print(json.dumps({'checked': len(cases), 'failures': failures[:10], 'failed': len(failures)}))
"#;

fn python() -> Option<PathBuf> {
    let py = PathBuf::from("/var/tmp/hadeploy-venv/bin/python3");
    let ok = py.exists()
        && Command::new(&py)
            .args(["-c", "import supervisor, jinja2"])
            .output()
            .is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide /var/tmp/hadeploy-venv (see .ci/run)"
    );
    eprintln!("SKIPPED the supervisor and Jinja2 read-back: no /var/tmp/hadeploy-venv (bash tests/setup-venv.sh)");
    None
}

/// Runs the batched cases through supervisor's parser and Jinja2, in one process.
fn check_in_python(batch: Batch) {
    let Some(py) = python() else { return };
    let mut child = Command::new(py)
        .arg("-c")
        .arg(PY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(&batch.cases).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["checked"], json!(batch.cases.len()));
    assert_eq!(
        report["failed"],
        json!(0),
        "supervisor or Jinja2 reads back something else:\n{}",
        serde_json::to_string_pretty(&report["failures"]).unwrap()
    );
}

#[test]
fn hostile_values_are_refused_or_arrive_intact() {
    let fields = fields();
    let batch = RefCell::new(Batch::default());
    let cases = std::env::var("HADEPLOY_INJECTION_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&(0..fields.len(), hostile()), |(i, value)| {
        one_case(&fields[i], &value, &batch)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let batch = batch.into_inner();
    // Values got through validation to every kind of file: the generator is
    // not so hostile that only refusals are tested (`--nocapture` shows
    // how many, field by field).
    for f in &fields {
        let n = batch.cases.iter().filter(|c| c["name"] == f.name).count();
        eprintln!("{n:>5} accepted values of {}", f.name);
    }
    for kind in ["jinja", "program", "supervisord"] {
        assert!(
            cases < 500 || batch.cases.iter().any(|c| c["kind"] == kind),
            "no value written to a `{kind}` file got through validation"
        );
    }
    check_in_python(batch);
}

/// The rule of docs/description.md ("Decisions"): `{{ }}` in a value
/// reaches Ansible, which expands it; `{%` and `{#` arrive as written. Checked
/// in the generated text, then by supervisor after Jinja2, then by Ansible
/// itself reading the variables.
#[test]
fn ansible_expressions_pass_and_jinja_blocks_are_neutralised() {
    let description = r#"
hosts:
- { name: h1, ssh_host: "127.0.0.1" }
vars:
  x: X
  tpl: "v={{ x }}"
  shell: 'echo $${#n[@]} {% raw %} {# c'
users:
- { login: app, comment: 'a {# b {% c {{ x }}' }
supervisors:
- { name: sv, scope: all, user: app, group: app }
supervisor_programs:
- name: p
  supervisor: sv
  command: "/bin/echo {{ x }} {% raw %} $${#a[@]} {#"
  environment: { A: "{{ x }} {#" }
"#;
    let model = load(description).unwrap_or_else(|d| panic!("{d}"));
    let project = render(&model, &Options::default()).unwrap();
    let ini = text(&project, "files/supervisors/sv/programs/p_prg.ini");
    assert!(
        // `%` doubled for supervisor, then `{%` neutralised for Jinja.
        ini.contains("command=/bin/echo {{ x }} {{ '{%' }}% raw %%} ${{ '{#' }}a[@]} {{ '{#' }}\n"),
        "{ini}"
    );
    assert!(ini.contains("environment=A=\"{{ x }} {{ '{#' }}\"\n"), "{ini}");
    let vars = text(&project, "group_vars/all.yml");
    assert!(vars.contains("\"tpl\": \"v={{ x }}\""), "{vars}");
    assert!(
        vars.contains(r#""shell": "echo ${{ '{#' }}n[@]} {{ '{%' }} raw %} {{ '{#' }} c""#),
        "{vars}"
    );

    // supervisor, after Ansible's `template` has rendered the file with x=X.
    if let Some(py) = python() {
        let script = r#"
import sys, json, shlex
import jinja2
from supervisor.options import UnhosedConfigParser
from supervisor.datatypes import dict_of_key_value_pairs
p = UnhosedConfigParser()
p.read_string(jinja2.Environment(trim_blocks=True).from_string(sys.stdin.read()).render(x='X'))
print(json.dumps([shlex.split(p.saneget('program:p', 'command')),
                  dict_of_key_value_pairs(p.saneget('program:p', 'environment'))]))
"#;
        let mut child = Command::new(py)
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), ini.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            got,
            json!([["/bin/echo", "X", "{%", "raw", "%}", "${#a[@]}", "{#"], {"A": "X {#"}])
        );
    }

    // Ansible, reading the generated variables.
    let playbook = PathBuf::from("/var/tmp/hadeploy-venv/bin/ansible-playbook");
    if !playbook.exists() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("project");
    hadeploy_codegen::write(&project, &out).unwrap();
    std::fs::write(
        out.join("check.yml"),
        "- hosts: h1\n  gather_facts: false\n  connection: local\n  vars_files: [vars/hadeploy.yml]\n  tasks:\n\
         \x20   - ansible.builtin.copy:\n        content: \"{{ [tpl, shell, hadeploy_base_users[0].comment] | to_json }}\"\n\
         \x20       dest: \"{{ playbook_dir }}/seen.json\"\n        mode: \"0600\"\n",
    )
    .unwrap();
    // Modules run here, with the venv's Python.
    let o = Command::new(playbook)
        .arg("check.yml")
        .arg("-e")
        .arg("ansible_python_interpreter=/var/tmp/hadeploy-venv/bin/python3")
        .current_dir(&out)
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let got: Value = serde_json::from_slice(&std::fs::read(out.join("seen.json")).unwrap()).unwrap();
    assert_eq!(got, json!(["v=X", "echo ${#n[@]} {% raw %} {# c", "a {# b {% c X"]));
}
