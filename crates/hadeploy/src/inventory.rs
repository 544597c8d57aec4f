//! Ansible's own reading of the description's `ansible_inventories`:
//! `ansible-inventory -i FILE --list`, limited to the file formats the
//! built-in readers know (INI, YAML) and to the variables files beside
//! them, so that no inventory script or plugin runs. It runs isolated
//! from the controller's environment (no `ansible.cfg` of the working
//! folder or the home, no `ANSIBLE_*` variable, so no vault password
//! either: a file encrypted as a whole cannot be decrypted, and is
//! refused) and bounded in time and memory.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hadeploy_model::{InventoryLister, Listed};

/// How long `ansible-inventory` may take on one inventory.
pub(crate) const LIST_TIMEOUT: Duration = Duration::from_secs(60);
/// The address space it may use.
pub(crate) const LIST_MEMORY: u64 = 2 << 30;

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
        let failed = |status: String| Listed::Failed {
            status,
            encrypted: false,
        };
        // A folder of its own: the working folder, configuration and home.
        let home = match tempfile::Builder::new().prefix("hadeploy-inventory-").tempdir() {
            Ok(d) => d,
            Err(e) => return failed(format!("an error creating a temporary folder: {e}")),
        };
        let config = home.path().join("ansible.cfg");
        if let Err(e) = std::fs::write(&config, "") {
            return failed(format!("an error writing {}: {e}", config.display()));
        }
        let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
        let mut cmd = Command::new(&self.program);
        cmd.arg("-i")
            .arg(&file)
            .arg("--list")
            .current_dir(home.path())
            .env_clear()
            .env("HOME", home.path())
            .env("ANSIBLE_CONFIG", &config)
            .env("ANSIBLE_HOME", home.path())
            .env("ANSIBLE_LOCAL_TEMP", home.path())
            // Files only: no script, no plugin configuration reaching a network.
            .env("ANSIBLE_INVENTORY_ENABLED", "ini,yaml")
            .env("ANSIBLE_VARS_ENABLED", "host_group_vars")
            .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "True")
            .env("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "True")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        bounded(&mut cmd);
        match run(&mut cmd, LIST_TIMEOUT) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Listed::Unavailable,
            Err(e) => failed(format!("an error running it: {e}")),
            Ok(None) => failed(format!("no answer within {} s", LIST_TIMEOUT.as_secs())),
            Ok(Some((status, out, _))) if status.success() => Listed::Json(out),
            // Its messages are not shown: they may quote the file.
            Ok(Some((status, _, err))) => Listed::Failed {
                status: status.to_string(),
                encrypted: String::from_utf8_lossy(&err)
                    .to_ascii_lowercase()
                    .contains("no vault secrets"),
            },
        }
    }
}

/// In its own process group, with [`LIST_MEMORY`] of address space.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn bounded(cmd: &mut Command) {
    use std::os::unix::process::CommandExt as _;

    use rustix::process::{Resource, Rlimit, setrlimit};
    cmd.process_group(0);
    // SAFETY: the closure runs in the child between fork and exec, where
    // only async-signal-safe calls are allowed: one system call
    // (setrlimit) through rustix, no allocation, no lock.
    unsafe {
        cmd.pre_exec(|| {
            let limit = Rlimit {
                current: Some(LIST_MEMORY),
                maximum: Some(LIST_MEMORY),
            };
            setrlimit(Resource::As, limit).map_err(std::io::Error::from)
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn bounded(_cmd: &mut Command) {}

type Output = (std::process::ExitStatus, Vec<u8>, Vec<u8>);

/// Runs `cmd` for at most `timeout`: its status and outputs, or `None`
/// when it had to be killed (with its process group).
fn run(cmd: &mut Command, timeout: Duration) -> std::io::Result<Option<Output>> {
    let mut child = cmd.spawn()?;
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some((
                status,
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default(),
            )));
        }
        if start.elapsed() > timeout {
            #[cfg(unix)]
            {
                use rustix::process::{Pid, Signal, kill_process_group};
                let _ = kill_process_group(Pid::from_child(&child), Signal::KILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_does_not_end_is_killed_with_its_children() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        bounded(&mut cmd);
        let start = Instant::now();
        assert!(run(&mut cmd, Duration::from_millis(300)).unwrap().is_none());
        // Its child held the pipes: they were closed with it.
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn memory_is_bounded() {
        // More than the bound: the allocation fails (it succeeds unbounded).
        let mut cmd = Command::new("python3");
        cmd.args(["-c", "b = bytearray(3 << 30); print(len(b))"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        bounded(&mut cmd);
        let (status, _, err) = run(&mut cmd, Duration::from_secs(60)).unwrap().unwrap();
        assert!(!status.success());
        assert!(String::from_utf8_lossy(&err).contains("MemoryError"));
    }
}
