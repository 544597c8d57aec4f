//! Every file of `roles-templates/`, embedded, addressed by one constant
//! each. Tera files use `[[ ]]`, `[% %]`, `[# #]` so that Ansible's own
//! `{{ }}` passes through untouched; static files are copied as they are.

use tera::{Context, Delimiters, Kwargs, State, Tera, TeraResult, Value};

use crate::quote;

macro_rules! embedded {
    ($path:expr) => {
        ($path, include_str!(concat!("../../../roles-templates/", $path)))
    };
}

/// Rendered with Tera.
pub const ANSIBLE_CFG: (&str, &str) = embedded!("ansible.cfg");
/// Rendered with Tera.
pub const INVENTORY: (&str, &str) = embedded!("inventory.yml");
/// Rendered with Tera.
pub const GROUP_VARS: (&str, &str) = embedded!("group_vars/all.yml");
/// Rendered with Tera, once per supervisor.
pub const SUPERVISORD_CONF: (&str, &str) = embedded!("supervisors/supervisord.conf");
/// Rendered with Tera, once per supervisor.
pub const SUPERVISORD_UNIT: (&str, &str) = embedded!("supervisors/supervisord.service");
/// Rendered with Tera, once per supervisor.
pub const SUPERVISORCTL: (&str, &str) = embedded!("supervisors/supervisorctl");
/// Rendered with Tera, once per program group.
pub const GROUP_INI: (&str, &str) = embedded!("supervisors/group.ini");

/// The start of every playbook's `pre_tasks`, which each includes.
const PRE_TASKS: (&str, &str) = embedded!("pre_tasks.yml");
/// Playbooks, rendered with Tera.
pub const PLAYBOOKS: [(&str, &str); 8] = [
    embedded!("deploy.yml"),
    embedded!("remove.yml"),
    embedded!("start.yml"),
    embedded!("stop.yml"),
    embedded!("restart.yml"),
    embedded!("status.yml"),
    embedded!("logs.yml"),
    embedded!("plan.yml"),
];

/// Where the project holds its collection: next to the playbooks, where
/// Ansible looks for collections first (the files above name it through
/// `collection!`, whose `concat!` needs a literal; the tests that read the
/// collection's files through this).
#[cfg(test)]
pub const COLLECTION: &str = "collections/ansible_collections/hadeploy/supervisor";

macro_rules! collection {
    ($path:literal) => {
        embedded!(concat!("collections/ansible_collections/hadeploy/supervisor/", $path))
    };
}

/// The collection's `galaxy.yml`, rendered with Tera (its version).
pub const GALAXY: (&str, &str) = collection!("galaxy.yml");
/// The collection's `CHANGELOG.md`, rendered with Tera (its version).
pub const CHANGELOG: (&str, &str) = collection!("CHANGELOG.md");

/// The collection's other files, and the project's lint settings, copied as
/// they are (plain Ansible).
pub const STATIC: [(&str, &str); 47] = [
    embedded!(".ansible-lint"),
    embedded!("execution-environment/execution-environment.yml"),
    embedded!("execution-environment/requirements.yml"),
    embedded!("execution-environment/bindep.txt"),
    collection!("README.md"),
    collection!("LICENSE"),
    collection!("roles/hadeploy_base/README.md"),
    collection!("roles/hadeploy_supervisor/README.md"),
    collection!("tests/sanity/ignore-2.15.txt"),
    collection!("tests/sanity/ignore-2.16.txt"),
    collection!("tests/sanity/ignore-2.17.txt"),
    collection!("tests/sanity/ignore-2.18.txt"),
    collection!("tests/sanity/ignore-2.19.txt"),
    collection!("tests/sanity/ignore-2.20.txt"),
    collection!("meta/runtime.yml"),
    collection!("plugins/modules/hadeploy_supervisor.py"),
    collection!("plugins/action/hadeploy_supervisor.py"),
    collection!("plugins/module_utils/system_paths.py"),
    collection!("plugins/module_utils/items.py"),
    collection!("plugins/module_utils/supervisord.py"),
    collection!("plugins/module_utils/host_files.py"),
    collection!("plugins/module_utils/journal.py"),
    collection!("plugins/module_utils/health.py"),
    collection!("roles/hadeploy_base/defaults/main.yml"),
    collection!("roles/hadeploy_base/meta/main.yml"),
    collection!("roles/hadeploy_base/meta/argument_specs.yml"),
    collection!("roles/hadeploy_base/tasks/main.yml"),
    collection!("roles/hadeploy_base/tasks/select.yml"),
    collection!("roles/hadeploy_base/tasks/deploy.yml"),
    collection!("roles/hadeploy_base/tasks/deploy_users.yml"),
    collection!("roles/hadeploy_base/tasks/deploy_files.yml"),
    collection!("roles/hadeploy_base/tasks/remove.yml"),
    collection!("roles/hadeploy_supervisor/defaults/main.yml"),
    collection!("roles/hadeploy_supervisor/tasks/deploy.yml"),
    collection!("roles/hadeploy_supervisor/tasks/package.yml"),
    collection!("roles/hadeploy_supervisor/tasks/instances.yml"),
    collection!("roles/hadeploy_supervisor/tasks/converge.yml"),
    collection!("roles/hadeploy_supervisor/tasks/start.yml"),
    collection!("roles/hadeploy_supervisor/tasks/stop.yml"),
    collection!("roles/hadeploy_supervisor/tasks/restart.yml"),
    collection!("roles/hadeploy_supervisor/tasks/status.yml"),
    collection!("roles/hadeploy_supervisor/tasks/logs.yml"),
    collection!("roles/hadeploy_supervisor/tasks/plan.yml"),
    collection!("roles/hadeploy_supervisor/tasks/remove.yml"),
    collection!("roles/hadeploy_supervisor/meta/main.yml"),
    collection!("roles/hadeploy_supervisor/meta/argument_specs.yml"),
    collection!("roles/hadeploy_supervisor/tasks/main.yml"),
];

/// The engine with every Tera template and the quoting filters.
pub fn engine() -> TeraResult<Tera> {
    let mut tera = Tera::new();
    tera.set_delimiters(Delimiters {
        block_start: "[%".into(),
        block_end: "%]".into(),
        variable_start: "[[".into(),
        variable_end: "]]".into(),
        comment_start: "[#".into(),
        comment_end: "#]".into(),
    })?;
    tera.register_filter("yaml", |v: &Value, _: Kwargs, _: &State| -> TeraResult<String> {
        Ok(quote::yaml(&to_json(v)?))
    });
    tera.register_filter("yaml_block", |v: &Value, kw: Kwargs, _: &State| -> TeraResult<String> {
        let indent: Option<usize> = kw.get("indent")?;
        Ok(quote::yaml_block(&to_json(v)?, indent.unwrap_or(2)))
    });
    tera.register_filter("ini", |v: &Value, _: Kwargs, _: &State| -> TeraResult<String> {
        match to_json(v)? {
            serde_json::Value::String(s) => quote::ini_value(&s)
                .map(|s| jinja_literal(&s))
                .map_err(|e| tera::Error::message(e.0)),
            serde_json::Value::Bool(b) => Ok(b.to_string()),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            other => Err(tera::Error::message(format!("no INI form for {other}"))),
        }
    });
    tera.register_filter("ini_conf", |v: &str, _: Kwargs, _: &State| -> TeraResult<String> {
        quote::ini_conf_value(v)
            .map(|s| jinja_literal(&s))
            .map_err(|e| tera::Error::message(e.0))
    });
    tera.register_filter("word", |v: &str, _: Kwargs, _: &State| -> TeraResult<String> {
        if !v.is_empty() && v.chars().all(quote::is_word_char) {
            Ok(v.to_string())
        } else {
            Err(tera::Error::message(format!(
                "`{v}` cannot be written in a systemd unit or shell script: use letters, digits and `_.@/+:-`"
            )))
        }
    });
    let mut all = vec![ANSIBLE_CFG, INVENTORY, GROUP_VARS, GALAXY, CHANGELOG];
    all.extend([SUPERVISORD_CONF, SUPERVISORD_UNIT, SUPERVISORCTL, GROUP_INI]);
    all.extend(PLAYBOOKS);
    // A partial, added before the playbooks that include it: the line that
    // includes it ends with the line break.
    let (name, text) = PRE_TASKS;
    tera.add_raw_template(name, text.strip_suffix('\n').unwrap_or(text))?;
    for (name, text) in all {
        tera.add_raw_template(name, text)?;
    }
    Ok(tera)
}

/// The INI files are deployed with Ansible's `template`, so `{{ }}` in a
/// user value reaches Ansible on purpose (as in HADeploy). Jinja's block and
/// comment markers never do: a shell's `${#list[@]}` or a literal `{%` would
/// otherwise be eaten or break the template. They are written as Jinja
/// string literals, which render back to the same characters.
fn jinja_literal(s: &str) -> String {
    quote::jinja_literal(s)
}

fn to_json(v: &Value) -> TeraResult<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| tera::Error::message(e.to_string()))
}

/// Renders `template` with `view` as its whole context.
pub fn render<T: serde::Serialize>(
    tera: &Tera,
    template: (&str, &str),
    view: &T,
) -> Result<String, crate::RenderError> {
    let ctx = Context::from_serialize(view).map_err(|e| crate::RenderError::template(template.0, &e))?;
    let mut text = tera
        .render(template.0, &ctx)
        .map_err(|e| crate::RenderError::template(template.0, &e))?;
    // Templates end on their last tag: every file ends with exactly one newline.
    text.truncate(text.trim_end().len());
    text.push('\n');
    Ok(text)
}
