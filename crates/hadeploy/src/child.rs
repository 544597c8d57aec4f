//! Runs `ansible-playbook` so that stopping hadeploy, however it is stopped,
//! stops the deployment, and an interrupted generation leaves nothing behind.
//!
//! - From the start of a run, SIGINT, SIGTERM, SIGHUP and SIGQUIT are
//!   caught ([`Interrupt`]): generation stops at the next file and removes
//!   its temporary folder.
//! - `ansible-playbook` runs in its own process group (unless standard input
//!   is a terminal, where it may have to prompt for a password and must stay
//!   in the terminal's foreground group), with a parent-death signal: if
//!   hadeploy is killed outright (SIGKILL), the kernel sends it SIGTERM.
//! - A caught signal is passed on to that group (SIGINT as SIGINT, the others
//!   as SIGTERM: Ansible stops its workers on those two); if it has not ended
//!   [`grace`] later, the group is killed. hadeploy waits for it, then exits
//!   with 128 + the signal's number, as a shell reports a process killed by
//!   it. A `ansible-playbook` killed by a signal gives the same code.

use std::io;
use std::process::{Command, ExitStatus, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long `ansible-playbook` has to stop after it was asked to, before it
/// and everything in its process group is killed: 20 s, or
/// `HADEPLOY_STOP_GRACE` seconds.
fn grace() -> Duration {
    let secs = std::env::var("HADEPLOY_STOP_GRACE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    Duration::from_secs(secs)
}

/// The signals that stop a run.
#[cfg(unix)]
const STOPPING: [i32; 4] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGQUIT,
];

/// The last stopping signal received since the run began (0: none).
#[derive(Clone, Default)]
pub(crate) struct Interrupt(Arc<AtomicUsize>);

impl Interrupt {
    /// Catches the stopping signals from now on: they no longer end the
    /// process; the run asks [`Interrupt::signal`] where it can stop cleanly.
    pub(crate) fn catch() -> Self {
        let caught = Interrupt::default();
        #[cfg(unix)]
        for signal in STOPPING {
            let value = usize::try_from(signal).unwrap_or(usize::MAX);
            // signal-hook's handler only stores the number: async-signal-safe.
            let _ = signal_hook::flag::register_usize(signal, Arc::clone(&caught.0), value);
        }
        caught
    }

    /// The stopping signal received, if any.
    pub(crate) fn signal(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            n => i32::try_from(n).ok(),
        }
    }
}

/// How `ansible-playbook` ended, and the first signal that asked hadeploy to
/// stop while it ran, if any.
pub(crate) struct Ran<T> {
    pub result: T,
    pub signal: Option<i32>,
}

/// Runs `cmd` to its end, with inherited standard streams.
pub(crate) fn status(cmd: &mut Command, interrupt: &Interrupt) -> io::Result<Ran<ExitStatus>> {
    supervise(cmd, interrupt, |mut child| child.wait())
}

/// Runs `cmd` to its end, capturing its output.
pub(crate) fn output(cmd: &mut Command, interrupt: &Interrupt) -> io::Result<Ran<Output>> {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    supervise(cmd, interrupt, std::process::Child::wait_with_output)
}

/// The message and exit code for a run that `signal` interrupted; `what`
/// says what was stopped.
pub(crate) fn interrupted(signal: i32, what: &str) -> std::process::ExitCode {
    let name = match signal {
        1 => "SIGHUP".to_string(),
        2 => "SIGINT".to_string(),
        3 => "SIGQUIT".to_string(),
        15 => "SIGTERM".to_string(),
        n => format!("signal {n}"),
    };
    eprintln!("error: interrupted by {name}: {what}");
    eprintln!("help: the hosts may be half done: run the same action again to finish it");
    std::process::ExitCode::from(u8::try_from(128 + signal).unwrap_or(1))
}

#[cfg(unix)]
fn supervise<T>(
    cmd: &mut Command,
    interrupt: &Interrupt,
    wait: impl FnOnce(std::process::Child) -> io::Result<T>,
) -> io::Result<Ran<T>> {
    use std::io::IsTerminal as _;
    use std::os::unix::process::CommandExt as _;

    use rustix::process::{Pid, Signal, kill_process, kill_process_group};
    use signal_hook::consts::SIGINT;
    use signal_hook::iterator::Signals;

    // Caught from before the child exists: no signal in between ends
    // hadeploy without passing it on.
    let mut signals = Signals::new(STOPPING)?;
    let handle = signals.handle();
    let own_group = !io::stdin().is_terminal();
    if own_group {
        cmd.process_group(0);
    }
    die_with_parent(cmd);
    // A signal that came during generation stops the run before it starts.
    if let Some(signal) = interrupt.signal() {
        handle.close();
        return Err(io::Error::new(io::ErrorKind::Interrupted, format!("signal {signal}")));
    }
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            handle.close();
            return Err(e);
        }
    };
    let pid = Pid::from_child(&child);
    let send = move |signal: Signal| {
        // Fails only once the child has ended: nothing left to stop.
        let _ = if own_group {
            kill_process_group(pid, signal)
        } else {
            kill_process(pid, signal)
        };
    };
    let ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let grace = grace();
    let forwarder = {
        let ended = Arc::clone(&ended);
        std::thread::spawn(move || {
            let mut first = None;
            for signal in signals.forever() {
                if first.is_none() {
                    first = Some(signal);
                    let ended = Arc::clone(&ended);
                    std::thread::spawn(move || {
                        std::thread::sleep(grace);
                        if !ended.load(Ordering::SeqCst) {
                            send(Signal::KILL);
                        }
                    });
                }
                send(if signal == SIGINT { Signal::INT } else { Signal::TERM });
            }
            first
        })
    };
    let result = wait(child);
    ended.store(true, Ordering::SeqCst);
    handle.close();
    let signal = forwarder.join().unwrap_or(None).or_else(|| interrupt.signal());
    Ok(Ran {
        result: result?,
        signal,
    })
}

/// Has the kernel send SIGTERM to the child when hadeploy dies, even of a
/// SIGKILL that no handler sees.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt as _;

    use rustix::process::{Signal, getpid, getppid, set_parent_process_death_signal};
    let parent = getpid();
    // SAFETY: the closure runs in the child between fork and exec, where
    // only async-signal-safe calls are allowed: it makes two system calls
    // (prctl, getppid) through rustix, allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            set_parent_process_death_signal(Some(Signal::TERM))?;
            // hadeploy may have died before the prctl: then no signal comes.
            if getppid() != Some(parent) {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            Ok(())
        });
    }
}

#[cfg(all(unix, not(target_os = "linux")))]
fn die_with_parent(_cmd: &mut Command) {}

#[cfg(not(unix))]
fn supervise<T>(
    cmd: &mut Command,
    _interrupt: &Interrupt,
    wait: impl FnOnce(std::process::Child) -> io::Result<T>,
) -> io::Result<Ran<T>> {
    Ok(Ran {
        result: wait(cmd.spawn()?)?,
        signal: None,
    })
}
