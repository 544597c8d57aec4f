//! Ansible's own reading of the description's `ansible_inventories`:
//! `ansible-inventory -i FILE --list`, limited to the file formats the
//! built-in readers know (INI, YAML) and to the variables files beside
//! them, so that no inventory script or plugin runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hadeploy_model::{InventoryLister, Listed};

/// Runs `ansible-inventory`: the one beside `HADEPLOY_ANSIBLE_PLAYBOOK`
/// when that is set, else the one on the `PATH`.
#[derive(Debug)]
pub(crate) struct AnsibleInventory {
    program: PathBuf,
}

impl AnsibleInventory {
    pub(crate) fn new() -> Self {
        let program = match std::env::var_os("HADEPLOY_ANSIBLE_PLAYBOOK") {
            Some(p) => Path::new(&p).with_file_name("ansible-inventory"),
            None => PathBuf::from("ansible-inventory"),
        };
        AnsibleInventory { program }
    }
}

impl InventoryLister for AnsibleInventory {
    fn list(&self, file: &Path) -> Listed {
        let out = Command::new(&self.program)
            .arg("-i")
            .arg(file)
            .arg("--list")
            // Files only: no script, no plugin configuration reaching a network.
            .env("ANSIBLE_INVENTORY_ENABLED", "ini,yaml")
            .env("ANSIBLE_VARS_ENABLED", "host_group_vars")
            .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "True")
            .env("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "True")
            .env("ANSIBLE_NOCOLOR", "1")
            .stdin(Stdio::null())
            .output();
        match out {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Listed::Unavailable,
            Err(e) => Listed::Failed {
                status: format!("an error starting it: {e}"),
                encrypted: false,
            },
            Ok(out) if out.status.success() => Listed::Json(out.stdout),
            // Its messages are not shown: they may quote the file.
            Ok(out) => Listed::Failed {
                status: out.status.to_string(),
                encrypted: String::from_utf8_lossy(&out.stderr)
                    .to_ascii_lowercase()
                    .contains("no vault secrets"),
            },
        }
    }
}
