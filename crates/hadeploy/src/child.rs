//! Runs `ansible-playbook` so that stopping hadeploy stops the deployment.
//!
//! A Ctrl-C in a terminal reaches both processes (they share the terminal's
//! process group), but a signal sent to hadeploy alone (`kill PID`, a closed
//! terminal, a CI job's timeout) would end hadeploy and leave
//! `ansible-playbook` deploying on its own, unseen. So while it runs,
//! hadeploy catches SIGINT, SIGTERM and SIGHUP, passes each on to
//! `ansible-playbook` (SIGINT as SIGINT, the others as SIGTERM: Ansible
//! handles those two by stopping its workers, and dies at once of a SIGHUP),
//! waits for it to end, and then exits with 128 + the signal's number, as a
//! shell reports a process killed by it. A second Ctrl-C in a terminal
//! reaches `ansible-playbook` twice; it stops all the same.

use std::io;
use std::process::{Command, ExitStatus, Output};

/// How `ansible-playbook` ended, and the first signal that asked hadeploy to
/// stop while it ran, if any.
pub(crate) struct Ran<T> {
    pub result: T,
    pub signal: Option<i32>,
}

/// Runs `cmd` to its end, with inherited standard streams.
pub(crate) fn status(cmd: &mut Command) -> io::Result<Ran<ExitStatus>> {
    supervise(cmd, |mut child| child.wait())
}

/// Runs `cmd` to its end, capturing its output.
pub(crate) fn output(cmd: &mut Command) -> io::Result<Ran<Output>> {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    supervise(cmd, std::process::Child::wait_with_output)
}

/// The message and exit code for a run that `signal` interrupted.
pub(crate) fn interrupted(signal: i32) -> std::process::ExitCode {
    let name = match signal {
        1 => "SIGHUP".to_string(),
        2 => "SIGINT".to_string(),
        15 => "SIGTERM".to_string(),
        n => format!("signal {n}"),
    };
    eprintln!("error: interrupted by {name}: `ansible-playbook` was stopped");
    eprintln!("help: the hosts may be half done: run the same action again to finish it");
    std::process::ExitCode::from(u8::try_from(128 + signal).unwrap_or(1))
}

#[cfg(unix)]
fn supervise<T>(cmd: &mut Command, wait: impl FnOnce(std::process::Child) -> io::Result<T>) -> io::Result<Ran<T>> {
    use rustix::process::{Pid, Signal, kill_process};
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    // Caught from before the child exists: no signal in between ends
    // hadeploy without passing it on.
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let handle = signals.handle();
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            handle.close();
            return Err(e);
        }
    };
    let pid = Pid::from_child(&child);
    let forwarder = std::thread::spawn(move || {
        let mut first = None;
        for signal in signals.forever() {
            first.get_or_insert(signal);
            let pass = if signal == SIGINT { Signal::INT } else { Signal::TERM };
            // Fails only once the child has ended: nothing left to stop.
            let _ = kill_process(pid, pass);
        }
        first
    });
    let result = wait(child);
    handle.close();
    let signal = forwarder.join().unwrap_or(None);
    Ok(Ran {
        result: result?,
        signal,
    })
}

#[cfg(not(unix))]
fn supervise<T>(cmd: &mut Command, wait: impl FnOnce(std::process::Child) -> io::Result<T>) -> io::Result<Ran<T>> {
    Ok(Ran {
        result: wait(cmd.spawn()?)?,
        signal: None,
    })
}
