//! `--action logs`: the last lines of every program's log, from every host,
//! read through each supervisord's XML-RPC interface by the role's module
//! (one call per host), written back as one JSON document per host as the
//! status is, and printed with each line prefixed by its host and process,
//! or as one JSON document.

use std::fmt::Write as _;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::status::{HostAnswer, HostReport, first_line};

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Only this program's (or group's) processes.
    pub program: Option<String>,
    /// Lines of each log, at most.
    pub lines: u32,
    /// The error log rather than the output.
    pub stderr: bool,
}

impl Query {
    /// The playbook's extra variables.
    pub fn vars(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "hadeploy_supervisor_logs_lines": self.lines,
            "hadeploy_supervisor_logs_stream": if self.stderr { "stderr" } else { "stdout" },
        });
        if let Some(p) = &self.program {
            v["hadeploy_supervisor_logs_program"] = serde_json::json!(p);
        }
        v
    }
}

/// Every host's logs, in the description's order of hosts.
pub type Report = IndexMap<String, HostLogs>;

/// What a host reported for `logs`.
pub type HostLogs = HostAnswer<SupervisorLogs>;

impl HostReport for SupervisorLogs {
    const PLAYBOOK: &'static str = "logs.yml";
    const DIR_VAR: &'static str = "hadeploy_supervisor_logs_dir";
    const WHAT: &'static str = "its logs";

    fn table(report: &Report) -> String {
        table(report)
    }

    /// A fault unless it answered or it does not run.
    fn fault(&self) -> Option<&str> {
        if self.running || self.down {
            None
        } else {
            Some(self.error.as_deref().unwrap_or("supervisord does not answer"))
        }
    }
}

/// One supervisord instance's processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisorLogs {
    /// supervisord answered.
    #[serde(default)]
    pub running: bool,
    /// It did not answer because it does not run, not for a fault.
    #[serde(default)]
    pub down: bool,
    /// Why it did not.
    #[serde(default)]
    pub error: Option<String>,
    /// Each process by the name supervisorctl gives it.
    #[serde(default)]
    pub programs: IndexMap<String, ProcessLogs>,
}

/// The end of one process's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessLogs {
    /// Its last lines, oldest first.
    #[serde(default)]
    pub lines: Vec<String>,
}

/// The report as text: each line as `HOST SUPERVISOR/PROCESS | LINE`, what
/// did not answer said as such; controls a host sent escaped.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let esc = crate::status::escape_controls;
    for (host, h) in report {
        if !crate::status::answered(&mut out, host, h.reachable, h.error.as_deref(), "logs") {
            continue;
        }
        let host = esc(host);
        for (sup, s) in &h.supervisors {
            let sup = esc(sup);
            if !s.running {
                let _ = writeln!(
                    out,
                    "{host} {sup}: supervisord does not answer: {}",
                    esc(first_line(s.error.as_deref()))
                );
                continue;
            }
            for (process, p) in &s.programs {
                let process = esc(process);
                for line in &p.lines {
                    let _ = writeln!(out, "{host} {sup}/{process} | {}", esc(line));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_says_its_host_and_process() {
        let report: Report = serde_json::from_value(serde_json::json!({
            "en1": {"reachable": true, "error": null, "supervisors": {
                "tsupv": {"running": true, "error": null, "programs": {
                    "program1": {"lines": ["hello", "world"]},
                    "web:worker_00": {"lines": ["\u{1b}[31mred"]}}},
                "offv": {"running": false, "error": "unix:///run/offv.sock no such file", "programs": {}}}},
            "en2": {"reachable": false, "error": "Failed to connect to the host via ssh\nmore", "supervisors": {}}
        }))
        .unwrap();
        insta::assert_snapshot!(table(&report), @r"
        en1 tsupv/program1 | hello
        en1 tsupv/program1 | world
        en1 tsupv/web:worker_00 | \u{1b}[31mred
        en1 offv: supervisord does not answer: unix:///run/offv.sock no such file
        en2: unreachable: Failed to connect to the host via ssh
        ");
    }

    #[test]
    fn the_query_becomes_the_playbooks_variables() {
        let q = Query {
            program: Some("program1".into()),
            lines: 5,
            stderr: true,
        };
        assert_eq!(
            q.vars(),
            serde_json::json!({"hadeploy_supervisor_logs_lines": 5, "hadeploy_supervisor_logs_stream": "stderr", "hadeploy_supervisor_logs_program": "program1"})
        );
    }
}
