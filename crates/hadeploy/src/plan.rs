//! `--action plan`: what a deploy would change on each host, changing
//! nothing. The plan playbook makes one call of the role's module per host
//! (`action: plan`), whose answer, a list of changes, each host writes back
//! as `HOST.json` as the status is; printed as a table or one JSON document.
//! Exit status as `terraform plan -detailed-exitcode`: 0 when no host would
//! change, [`EXIT_CHANGES`] when some would, 1 when the plan could not be
//! made.

use std::fmt::Write as _;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::status::{answered, escape_controls};

/// The exit code of a plan with changes.
pub const EXIT_CHANGES: u8 = 2;

/// What a host reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostPlan {
    /// The host answered.
    pub reachable: bool,
    /// Why the host, or the module on it, gave no answer.
    #[serde(default)]
    pub error: Option<String>,
    /// The changes, in the order a deploy makes them.
    #[serde(default)]
    pub plan: Vec<Change>,
}

impl HostPlan {
    /// A host whose document could not be read.
    pub fn unreadable(error: &str) -> Self {
        HostPlan {
            reachable: true,
            error: Some(error.to_string()),
            plan: Vec::new(),
        }
    }
}

/// One change a deploy would make (the module's RETURN documents each key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `group`, `user`, `authorized_keys`, `sudoers`, `folder`, `file`,
    /// `package`, `service` or `program`.
    pub kind: String,
    /// A path for files and folders, a process or group for programs, a
    /// unit for services, else a name.
    pub name: String,
    /// The instance of a service or a program.
    #[serde(default)]
    pub supervisor: Option<String>,
    /// `create`, `change`, `remove`, `install`, `enable`, `disable`,
    /// `start`, `stop`, `restart` or `add`.
    pub action: String,
    /// What of it changes: `content`, `owner`, `group`, `mode`, `type`; of
    /// a user, `comment`, `group`, `groups`, `password`.
    #[serde(default)]
    pub what: Vec<String>,
    /// The files whose change calls for a restart.
    #[serde(default)]
    pub why: Vec<String>,
    /// A restart an earlier deploy recorded and did not make.
    #[serde(default)]
    pub pending: bool,
    /// A text file's unified diff (`None` when it is not text, or hidden).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// The file holds a secret: no diff.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

/// Every host's plan, in the description's order of hosts.
pub type Report = IndexMap<String, HostPlan>;

/// Whether some host would change.
pub fn changes(report: &Report) -> bool {
    report.values().any(|h| !h.plan.is_empty())
}

/// `+` for what a deploy adds or starts, `-` for what it removes or stops,
/// `~` for what it changes or restarts.
fn sign(action: &str) -> char {
    match action {
        "create" | "add" | "install" | "enable" | "start" => '+',
        "remove" | "stop" | "disable" => '-',
        _ => '~',
    }
}

/// The plan as text: per host, each change on a line (sign, action, kind,
/// name, what of it, why), a text file's diff below it.
pub fn table(report: &Report) -> String {
    let rows = || report.values().flat_map(|h| h.plan.iter());
    let action_w = rows().map(|c| c.action.chars().count()).max().unwrap_or(0);
    let kind_w = rows().map(|c| c.kind.chars().count()).max().unwrap_or(0);
    let esc = escape_controls;
    let mut out = String::new();
    for (host, h) in report {
        if !answered(&mut out, host, h.reachable, h.error.as_deref(), "plan") {
            continue;
        }
        let host = esc(host);
        match h.plan.len() {
            0 => {
                let _ = writeln!(out, "{host}: no change");
            }
            1 => {
                let _ = writeln!(out, "{host}: 1 change");
            }
            n => {
                let _ = writeln!(out, "{host}: {n} changes");
            }
        }
        for c in &h.plan {
            let name = match (&c.supervisor, c.kind.as_str()) {
                (Some(s), "program") => format!("{s}/{}", c.name),
                (Some(s), "service") => format!("{} ({s})", c.name),
                _ => c.name.clone(),
            };
            let mut line = format!(
                "  {} {:<action_w$}  {:<kind_w$}  {}",
                sign(&c.action),
                esc(&c.action),
                esc(&c.kind),
                esc(&name)
            );
            if !c.what.is_empty() {
                let _ = write!(line, " ({})", esc(&c.what.join(", ")));
            }
            if !c.why.is_empty() {
                let _ = write!(line, ": {} changes", esc(&c.why.join(", ")));
            } else if c.pending {
                line.push_str(": left to do by an earlier deploy");
            }
            let _ = writeln!(out, "{line}");
            if c.hidden {
                let _ = writeln!(out, "      (diff hidden: the file holds a secret)");
            }
            for l in c.diff.iter().flat_map(|d| d.lines()) {
                // Tabs as they are: a file's indentation.
                let l: Vec<_> = l.split('\t').map(esc).collect();
                let _ = writeln!(out, "      {}", l.join("\t"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report(v: serde_json::Value) -> Report {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_table_says_what_would_change_per_host_and_why() {
        let r = report(json!({
            "en1": {"reachable": true, "error": null, "plan": [
                {"kind": "user", "name": "tsup", "supervisor": null, "action": "change", "what": ["comment", "password"], "why": [], "pending": false},
                {"kind": "file", "name": "/opt/tsup/program1.sh", "supervisor": null, "action": "change", "what": ["content"], "why": [], "pending": false,
                 "diff": "--- /opt/tsup/program1.sh\n+++ /opt/tsup/program1.sh\n@@ -1 +1 @@\n-sleep 10\n+sleep 20\n"},
                {"kind": "file", "name": "/opt/tsup/token", "supervisor": null, "action": "change", "what": ["content", "mode"], "why": [], "pending": false,
                 "diff": null, "hidden": true},
                {"kind": "file", "name": "/etc/supervisord_tsupv.d/old_prg.ini", "supervisor": null, "action": "remove", "what": [], "why": [], "pending": false},
                {"kind": "service", "name": "supervisord_tsupv.service", "supervisor": "tsupv", "action": "restart", "what": [], "why": ["/etc/supervisord_tsupv.conf"], "pending": false},
                {"kind": "program", "name": "old", "supervisor": "tsupv", "action": "remove", "what": [], "why": [], "pending": false},
                {"kind": "program", "name": "program1", "supervisor": "tsupv", "action": "restart", "what": [], "why": ["/opt/tsup/program1.sh"], "pending": false},
                {"kind": "program", "name": "web", "supervisor": "tsupv", "action": "restart", "what": [], "why": [], "pending": true}
            ]},
            "en2": {"reachable": true, "error": null, "plan": []},
            "en3": {"reachable": false, "error": "Failed to connect to the host via ssh"}
        }));
        assert!(changes(&r));
        insta::assert_snapshot!(table(&r), @r"
        en1: 8 changes
          ~ change   user     tsup (comment, password)
          ~ change   file     /opt/tsup/program1.sh (content)
              --- /opt/tsup/program1.sh
              +++ /opt/tsup/program1.sh
              @@ -1 +1 @@
              -sleep 10
              +sleep 20
          ~ change   file     /opt/tsup/token (content, mode)
              (diff hidden: the file holds a secret)
          - remove   file     /etc/supervisord_tsupv.d/old_prg.ini
          ~ restart  service  supervisord_tsupv.service (tsupv): /etc/supervisord_tsupv.conf changes
          - remove   program  tsupv/old
          ~ restart  program  tsupv/program1: /opt/tsup/program1.sh changes
          ~ restart  program  tsupv/web: left to do by an earlier deploy
        en2: no change
        en3: unreachable: Failed to connect to the host via ssh
        ");
        let none = report(json!({"en1": {"reachable": true, "plan": []}}));
        assert!(!changes(&none));
    }

    #[test]
    fn what_a_host_reports_cannot_drive_the_terminal_nor_forge_a_line() {
        let r = report(json!({"en1": {"reachable": true, "plan": [
            {"kind": "file", "name": "/opt/a\nen2: no change\u{1b}[2J", "action": "change", "what": ["content"],
             "diff": "--- a\n+++ a\n@@ -1 +1 @@\n-x\u{1b}]0;owned\u{7}\n+\ty\u{202e}\n"}
        ]}}));
        let t = table(&r);
        assert!(!t.contains(|c: char| c.is_control() && c != '\n' && c != '\t'), "{t:?}");
        assert!(t.contains("      +\ty\\u{202e}\n"), "{t}");
        assert!(!t.contains('\u{202e}'), "{t:?}");
        assert!(!t.lines().any(|l| l.starts_with("en2")), "{t}");
        assert_eq!(t.lines().count(), 7, "{t}");
    }
}
