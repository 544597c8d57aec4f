//! `--action status`: what the status playbook wrote, one JSON document per
//! host, gathered into one report, as a table or as JSON.
//!
//! The playbook's last task copies each host's `hadeploy_supervisor_report` fact to
//! `HOST.json` in a folder of this machine (`delegate_to: localhost`), named
//! by the extra variable `hadeploy_supervisor_status_dir`: plain files, whatever
//! callback, verbosity or `--check` the user gives Ansible.

use std::fmt::Write as _;
use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// What one host writes back for a report (`status`, `logs`): a playbook
/// whose last task writes `HOST.json` into the folder named by an extra
/// variable, read back into a [`HostAnswer`] of `Self` per instance.
pub trait HostReport: serde::de::DeserializeOwned + Serialize + Sized {
    /// The playbook that writes it.
    const PLAYBOOK: &'static str;
    /// The extra variable that names the folder the playbook writes to.
    const DIR_VAR: &'static str;
    /// What the report holds, for "no host reported ...".
    const WHAT: &'static str;
    /// The report as text.
    fn table(report: &IndexMap<String, HostAnswer<Self>>) -> String;
    /// Why this instance's silence is a fault, or `None`: it answered, or
    /// it does not run where it need not.
    fn fault(&self) -> Option<&str>;
}

/// `host` (for a host whose module failed) or `host/instance`, with why,
/// for every reachable host that gave no answer and every instance whose
/// silence is a [`HostReport::fault`].
pub fn faults<S: HostReport>(report: &IndexMap<String, HostAnswer<S>>) -> Vec<String> {
    let mut out = Vec::new();
    for (host, h) in report.iter().filter(|(_, h)| h.reachable) {
        if let Some(e) = &h.error {
            out.push(format!("{host}: {}", first_line(Some(e))));
        }
        for (name, s) in &h.supervisors {
            if let Some(why) = s.fault() {
                out.push(format!("{host}/{name}: {}", first_line(Some(why))));
            }
        }
    }
    out
}

/// What a host reported: the role module's answer (`hadeploy_supervisor`
/// with `action: status` or `logs`), `S` for each instance, or why there is
/// none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: serde::de::DeserializeOwned"))]
pub struct HostAnswer<S> {
    /// The host answered.
    pub reachable: bool,
    /// Why the host, or the module on it, gave no answer.
    #[serde(default)]
    pub error: Option<String>,
    /// Each supervisord instance by name.
    #[serde(default = "IndexMap::new")]
    pub supervisors: IndexMap<String, S>,
}

impl<S> HostAnswer<S> {
    /// A host whose document could not be read.
    pub fn unreadable(error: &str) -> Self {
        HostAnswer {
            reachable: true,
            error: Some(error.to_string()),
            supervisors: IndexMap::new(),
        }
    }
}

/// What a host reported for `status`.
pub type HostStatus = HostAnswer<SupervisorStatus>;

/// Every host's status, in the order of [`collect`].
pub type Report = IndexMap<String, HostStatus>;

/// One supervisord instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisorStatus {
    /// The description installs it (and its systemd unit).
    #[serde(default)]
    pub managed: bool,
    /// Its systemd unit, when managed.
    #[serde(default)]
    pub service: Option<ServiceStatus>,
    /// supervisord answered on its socket.
    #[serde(default)]
    pub running: bool,
    /// It did not answer because it does not run (no socket, nothing
    /// listening), not for a fault.
    #[serde(default)]
    pub down: bool,
    /// Why it did not answer.
    #[serde(default)]
    pub error: Option<String>,
    /// Each process by the name supervisorctl gives it.
    #[serde(default)]
    pub programs: IndexMap<String, ProgramStatus>,
}

/// An instance's systemd unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// The unit's name.
    pub unit: String,
    /// `running`, `stopped` or `absent`.
    pub state: String,
    /// Started at boot.
    pub enabled: bool,
}

/// One process of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramStatus {
    /// supervisor's state name: `RUNNING`, `STOPPED`, `FATAL`...
    pub state: String,
    /// Its pid, when it runs.
    #[serde(default)]
    pub pid: Option<u64>,
    /// How long it has run, as supervisor writes it (`1 day, 2:03:04`).
    #[serde(default)]
    pub uptime: Option<String>,
    /// The same in seconds.
    #[serde(default)]
    pub uptime_seconds: Option<u64>,
    /// supervisor's description of the process.
    #[serde(default)]
    pub description: String,
}

impl HostReport for SupervisorStatus {
    const PLAYBOOK: &'static str = "status.yml";
    const DIR_VAR: &'static str = "hadeploy_supervisor_status_dir";
    const WHAT: &'static str = "a status";

    fn table(report: &Report) -> String {
        table(report)
    }

    /// A fault unless it answered, or it does not run and its service is
    /// not running either (stopped on purpose).
    fn fault(&self) -> Option<&str> {
        let stopped = self.service.as_ref().is_some_and(|s| s.state != "running");
        if self.running || (self.down && stopped) {
            None
        } else {
            Some(self.error.as_deref().unwrap_or("supervisord does not answer"))
        }
    }
}

/// The host documents found in `dir`, in the order of `hosts` (the
/// description's), then any other in name order; one that is not valid
/// stands as what `unreadable` makes of why.
pub fn collect<T: serde::de::DeserializeOwned>(
    dir: &Path,
    hosts: &[String],
    unreadable: fn(&str) -> T,
) -> IndexMap<String, T> {
    let mut found: Vec<(String, T)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let (Some(stem), Some("json")) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) else {
                continue;
            };
            let status = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_else(|| unreadable("what was written for this host is not valid"));
            found.push((stem.to_string(), status));
        }
    }
    let rank = |h: &str| hosts.iter().position(|x| x == h).unwrap_or(usize::MAX);
    found.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    found.into_iter().collect()
}

/// Hosts that did not answer.
pub fn unreachable<S>(report: &IndexMap<String, HostAnswer<S>>) -> Vec<&str> {
    report
        .iter()
        .filter(|(_, h)| !h.reachable)
        .map(|(h, _)| h.as_str())
        .collect()
}

/// Writes the line of a host that gave no answer, `HOST: unreachable: WHY`
/// or `HOST: no WHAT: WHY`, escaped; whether it gave one.
pub(crate) fn answered(out: &mut String, host: &str, reachable: bool, error: Option<&str>, what: &str) -> bool {
    let host = escape_controls(host);
    if !reachable {
        let _ = writeln!(out, "{host}: unreachable: {}", escape_controls(first_line(error)));
    } else if let Some(e) = error {
        let _ = writeln!(out, "{host}: no {what}: {}", escape_controls(first_line(Some(e))));
    }
    reachable && error.is_none()
}

/// The first line of an error: some are followed by usage hints.
pub(crate) fn first_line(error: Option<&str>) -> &str {
    error.map_or("", |e| e.lines().next().unwrap_or("").trim())
}

/// The report as text: per host, each supervisor's line, then its programs
/// with name, state, pid and uptime in aligned columns (supervisor's
/// description for a process that does not run).
pub fn table(report: &Report) -> String {
    let programs = || {
        report
            .values()
            .flat_map(|h| h.supervisors.values())
            .flat_map(|s| s.programs.iter())
    };
    let name_w = programs().map(|(n, _)| n.chars().count()).max().unwrap_or(0);
    let state_w = programs().map(|(_, p)| p.state.chars().count()).max().unwrap_or(0);
    let pid = |p: &ProgramStatus| p.pid.map(|n| format!("pid {n}"));
    let pid_w = programs()
        .filter_map(|(_, p)| pid(p))
        .map(|s| s.len())
        .max()
        .unwrap_or(0);

    let mut out = String::new();
    let esc = escape_controls;
    for (host, h) in report {
        let host = esc(host);
        if !h.reachable {
            let _ = writeln!(out, "{host}: unreachable: {}", esc(first_line(h.error.as_deref())));
            continue;
        }
        let _ = writeln!(out, "{host}");
        if let Some(e) = &h.error {
            let _ = writeln!(out, "  no status: {}", esc(first_line(Some(e))));
            continue;
        }
        if h.supervisors.is_empty() {
            let _ = writeln!(out, "  no supervisor");
        }
        for (name, s) in &h.supervisors {
            let service = match &s.service {
                None => "not managed here".to_string(),
                Some(svc) if svc.state == "absent" => format!("service {} not installed", svc.unit),
                Some(svc) => {
                    let enabled = if svc.enabled { "enabled" } else { "disabled" };
                    format!("service {} {}, {enabled}", svc.unit, svc.state)
                }
            };
            let _ = writeln!(out, "  {}: {}", esc(name), esc(&service));
            if !s.running {
                let _ = writeln!(
                    out,
                    "    supervisord does not answer: {}",
                    esc(first_line(s.error.as_deref()))
                );
                continue;
            }
            if s.programs.is_empty() {
                let _ = writeln!(out, "    no program");
            }
            for (pname, p) in &s.programs {
                let rest = match (pid(p), &p.uptime) {
                    (Some(pid), Some(up)) => format!("{pid:<pid_w$}  uptime {up}"),
                    _ => p.description.clone(),
                };
                let (pname, state, rest) = (esc(pname), esc(&p.state), esc(&rest));
                let line = format!("    {pname:<name_w$}  {state:<state_w$}  {rest}");
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
    }
    out
}

/// Whether `c` could drive a terminal or hide what a line says: a control
/// character (C0, DEL, C1), a bidirectional control (`Bidi_Control`:
/// U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069), another invisible
/// format character (zero-width and joiners, word joiners, soft hyphen,
/// BOM, interlinear annotations, tags), or a line or paragraph separator.
pub(crate) fn hostile(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// A value a host reported (a name, a state, an error, a log line) as it
/// goes on one line of a table: every [`hostile`] character, line breaks
/// included, written as an escape, so that a host can neither move the
/// cursor, recolour or rewrite the terminal, nor forge another line.
pub(crate) fn escape_controls(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(hostile) {
        return value.into();
    }
    value
        .chars()
        .map(|c| {
            if hostile(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// JSON text with every [`hostile`] character that `serde_json` writes as
/// it is (C1, bidirectional and format characters) written as a `\u`
/// escape: the same document, which a terminal shows as it is.
pub(crate) fn json_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if hostile(c) && !c.is_ascii() {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_table_aligns_programs_and_says_what_is_not_there() {
        let report = json!({
            "en1": {"reachable": true, "error": null, "supervisors": {
                "tsupv": {"managed": true, "running": true, "error": null,
                    "service": {"unit": "supervisord_tsupv.service", "state": "running", "enabled": true},
                    "programs": {
                        "program1": {"state": "RUNNING", "pid": 4621, "uptime": "0:07:03", "description": "pid 4621, uptime 0:07:03"},
                        "backend:workers_00": {"state": "RUNNING", "pid": 12, "uptime": "1 day, 2:03:04", "description": "pid 12, uptime 1 day, 2:03:04"},
                        "backend:idle": {"state": "STOPPED", "pid": null, "uptime": null, "description": "Not started"}}},
                "appv": {"managed": false, "service": null, "running": false,
                    "error": "unix:///var/run/supervisor_appv/supervisor.sock no such file", "programs": {}},
                "offv": {"managed": true, "running": false, "error": "Error: could not find config file /etc/supervisord_offv.conf\nFor help, use /usr/bin/supervisorctl -h",
                    "service": {"unit": "supervisord_offv.service", "state": "absent", "enabled": false}, "programs": {}}}},
            "en2": {"reachable": false, "error": "Failed to connect to the host via ssh", "supervisors": {}},
            "en3": {"reachable": true, "error": null, "supervisors": {}},
            "en4": {"reachable": true, "error": "MODULE FAILURE: /usr/bin/python3: not found\nSee stdout", "supervisors": {}}
        });
        let report: Report = serde_json::from_value(report).unwrap();
        let report = &report;
        insta::assert_snapshot!(table(report), @r"
        en1
          tsupv: service supervisord_tsupv.service running, enabled
            program1            RUNNING  pid 4621  uptime 0:07:03
            backend:workers_00  RUNNING  pid 12    uptime 1 day, 2:03:04
            backend:idle        STOPPED  Not started
          appv: not managed here
            supervisord does not answer: unix:///var/run/supervisor_appv/supervisor.sock no such file
          offv: service supervisord_offv.service not installed
            supervisord does not answer: Error: could not find config file /etc/supervisord_offv.conf
        en2: unreachable: Failed to connect to the host via ssh
        en3
          no supervisor
        en4
          no status: MODULE FAILURE: /usr/bin/python3: not found
        ");
        assert_eq!(unreachable(report), ["en2"]);
    }

    #[test]
    fn what_hosts_report_cannot_drive_the_terminal() {
        let report = json!({
            "en1\u{1b}[2J": {"reachable": false, "error": "boom\u{1b}]0;owned\u{7}\u{202e}txt.exe", "supervisors": {}},
            "en2": {"reachable": true, "supervisors": {"sv": {"running": true, "service": null,
                "programs": {"p\u{8}\u{8}x": {"state": "RUNNING\r", "pid": 1, "uptime": "0:00:01"}}}}}
        });
        let report: Report = serde_json::from_value(report).unwrap();
        let t = table(&report);
        assert!(!t.contains(|c: char| c.is_control() && c != '\n'), "{t:?}");
        assert!(!t.contains('\u{202e}'), "{t:?}");
        assert!(
            t.contains("en1\\u{1b}[2J: unreachable: boom\\u{1b}]0;owned\\u{7}\\u{202e}txt.exe"),
            "{t}"
        );
        assert!(t.contains("p\\u{8}\\u{8}x"), "{t}");
    }

    #[test]
    fn a_value_cannot_forge_another_host_s_line_nor_hide_bidi_characters() {
        let report = json!({
            "en1": {"reachable": true, "supervisors": {"sv": {"running": true, "service": null,
                "programs": {"p\nen2\u{061C}": {"state": "RUNNING", "pid": 1, "uptime": "0:00:01"}}}}}
        });
        let report: Report = serde_json::from_value(report).unwrap();
        let t = table(&report);
        assert_eq!(t.lines().count(), 3, "{t}");
        assert!(!t.lines().any(|l| l.starts_with("en2")), "{t}");
        assert!(t.contains("p\\u{a}en2\\u{61c}"), "{t}");
        let json = json_escaped(&serde_json::to_string(&json!({"p\u{85}\u{202e}\u{E0041}": "\u{061C}"})).unwrap());
        assert!(json.is_ascii(), "{json}");
        assert_eq!(json, r#"{"p\u0085\u202e\udb40\udc41":"\u061c"}"#);
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["p\u{85}\u{202e}\u{E0041}"], "\u{061C}");
    }

    #[test]
    fn hosts_come_in_description_order() {
        let dir = tempfile::tempdir().unwrap();
        for h in ["b", "a", "zz", "en1"] {
            std::fs::write(dir.path().join(format!("{h}.json")), r#"{"reachable": true}"#).unwrap();
        }
        std::fs::write(dir.path().join("broken.json"), "{").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        let report: Report = collect(dir.path(), &["zz".into(), "en1".into()], HostAnswer::unreadable);
        let hosts: Vec<&String> = report.keys().collect();
        assert_eq!(hosts, ["zz", "en1", "a", "b", "broken"]);
        assert!(report["broken"].error.as_deref().unwrap().contains("not valid"));
    }
}
