//! `--action status`: what the status playbook wrote, one JSON document per
//! host, gathered into one report, as a table or as JSON.
//!
//! The playbook's last task copies each host's `hadeploy_supervisor_report` fact to
//! `HOST.json` in a folder of this machine (`delegate_to: localhost`), named
//! by the extra variable `hadeploy_status_dir`: plain files, whatever
//! callback, verbosity or `--check` the user gives Ansible.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

/// The extra variable that names the folder the playbook writes to.
pub const DIR_VAR: &str = "hadeploy_status_dir";

/// The host documents found in `dir`, in the order of `hosts` (the
/// description's), then any other in name order.
pub fn collect(dir: &Path, hosts: &[String]) -> Map<String, Value> {
    let mut found: Vec<(String, Value)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let (Some(stem), Some("json")) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) else {
                continue;
            };
            let value = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_else(|| {
                    serde_json::json!({"reachable": true, "error": "the status written for this host is not valid JSON", "supervisors": {}})
                });
            found.push((stem.to_string(), value));
        }
    }
    let rank = |h: &str| hosts.iter().position(|x| x == h).unwrap_or(usize::MAX);
    found.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    found.into_iter().collect()
}

/// Hosts that did not answer.
pub fn unreachable(report: &Map<String, Value>) -> Vec<&str> {
    report
        .iter()
        .filter(|(_, v)| v["reachable"] == Value::Bool(false))
        .map(|(h, _)| h.as_str())
        .collect()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The first line of an error: supervisorctl follows some with usage hints.
fn first_line(v: &Value) -> &str {
    text(v, "error").lines().next().unwrap_or("").trim()
}

/// The report as text: per host, each supervisor's line, then its programs
/// with name, state, pid and uptime in aligned columns (the description
/// supervisorctl gives for a process that does not run).
pub fn table(report: &Map<String, Value>) -> String {
    let programs = || {
        report
            .values()
            .filter_map(|h| h.get("supervisors").and_then(Value::as_object))
            .flat_map(|s| s.values())
            .filter_map(|s| s.get("programs").and_then(Value::as_object))
            .flat_map(|p| p.iter())
    };
    let name_w = programs().map(|(n, _)| n.chars().count()).max().unwrap_or(0);
    let state_w = programs().map(|(_, p)| text(p, "state").len()).max().unwrap_or(0);
    let pid = |p: &Value| p.get("pid").and_then(Value::as_u64).map(|n| format!("pid {n}"));
    let pid_w = programs()
        .filter_map(|(_, p)| pid(p))
        .map(|s| s.len())
        .max()
        .unwrap_or(0);

    let mut out = String::new();
    for (host, h) in report {
        if h["reachable"] == Value::Bool(false) {
            let _ = writeln!(out, "{host}: unreachable: {}", first_line(h));
            continue;
        }
        let _ = writeln!(out, "{host}");
        let sups = h.get("supervisors").and_then(Value::as_object);
        if sups.is_none_or(Map::is_empty) {
            let _ = writeln!(out, "  no supervisor");
        }
        for (name, s) in sups.into_iter().flatten() {
            let service = match s.get("service").filter(|v| v.is_object()) {
                None => "not managed here".to_string(),
                Some(svc) => {
                    let state = text(svc, "state");
                    let unit = text(svc, "unit");
                    if state == "absent" {
                        format!("service {unit} not installed")
                    } else {
                        let enabled = if svc["enabled"] == Value::Bool(true) {
                            "enabled"
                        } else {
                            "disabled"
                        };
                        format!("service {unit} {state}, {enabled}")
                    }
                }
            };
            let _ = writeln!(out, "  {name}: {service}");
            if s["running"] != Value::Bool(true) {
                let _ = writeln!(out, "    supervisord does not answer: {}", first_line(s));
                continue;
            }
            let progs = s.get("programs").and_then(Value::as_object);
            if progs.is_none_or(Map::is_empty) {
                let _ = writeln!(out, "    no program");
            }
            for (pname, p) in progs.into_iter().flatten() {
                let state = text(p, "state");
                let rest = match (pid(p), p.get("uptime").and_then(Value::as_str)) {
                    (Some(pid), Some(up)) => format!("{pid:<pid_w$}  uptime {up}"),
                    _ => text(p, "description").to_string(),
                };
                let line = format!("    {pname:<name_w$}  {state:<state_w$}  {rest}");
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
    }
    escape_controls(&out)
}

/// The table with every control or invisible formatting character that a
/// host reported (a program name, an error message) written as an escape,
/// so that a host cannot move the cursor, recolour or rewrite the terminal.
fn escape_controls(table: &str) -> String {
    let hostile = |c: char| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    };
    if !table.contains(hostile) {
        return table.to_string();
    }
    table
        .chars()
        .map(|c| {
            if hostile(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
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
            "en3": {"reachable": true, "error": null, "supervisors": {}}
        });
        let report = report.as_object().unwrap();
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
        let t = table(report.as_object().unwrap());
        assert!(!t.contains(|c: char| c.is_control() && c != '\n'), "{t:?}");
        assert!(!t.contains('\u{202e}'), "{t:?}");
        assert!(
            t.contains("en1\\u{1b}[2J: unreachable: boom\\u{1b}]0;owned\\u{7}\\u{202e}txt.exe"),
            "{t}"
        );
        assert!(t.contains("p\\u{8}\\u{8}x"), "{t}");
    }

    #[test]
    fn hosts_come_in_description_order() {
        let dir = tempfile::tempdir().unwrap();
        for h in ["b", "a", "zz", "en1"] {
            std::fs::write(dir.path().join(format!("{h}.json")), r#"{"reachable": true}"#).unwrap();
        }
        std::fs::write(dir.path().join("broken.json"), "{").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        let report = collect(dir.path(), &["zz".into(), "en1".into()]);
        let hosts: Vec<&String> = report.keys().collect();
        assert_eq!(hosts, ["zz", "en1", "a", "b", "broken"]);
        assert!(report["broken"]["error"].as_str().unwrap().contains("not valid JSON"));
    }
}
