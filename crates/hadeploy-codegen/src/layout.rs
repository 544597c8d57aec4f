//! Where a project keeps what it sends to the hosts, and what an instance
//! owns on a host: shared by the playbooks' views ([`crate::views`]) and
//! the roles' inputs ([`crate::data`]).

use hadeploy_model::{FileSource, Supervisor};

/// The file a program's `[program:NAME]` section goes to, in its
/// instance's include folder and under the project's `programs/`.
pub(crate) const PROGRAM_FILE_SUFFIX: &str = "_prg.ini";
/// The file a group's `[group:NAME]` section goes to.
pub(crate) const GROUP_FILE_SUFFIX: &str = "_grp.ini";

/// The name of the program file of `program`, or of the group file of
/// `group`: the only place these names are made. The module removes, from
/// an include folder, the files of these suffixes no longer described (it
/// reads them from the collection's `module_utils/items.py`).
pub(crate) fn program_file(program: &str) -> String {
    format!("{program}{PROGRAM_FILE_SUFFIX}")
}

/// See [`program_file`].
pub(crate) fn group_file(group: &str) -> String {
    format!("{group}{GROUP_FILE_SUFFIX}")
}

/// The name `supervisorctl status` prints: `group:process`, or `process`
/// when both are the same.
pub(crate) fn status_name(full: &str) -> String {
    match full.split_once(':') {
        Some((g, p)) if g == p => p.to_string(),
        _ => full.to_string(),
    }
}

/// The name under `/run` of a folder systemd creates at each start
/// (`RuntimeDirectory=`), or `None` for one that is not under `/run`.
pub(crate) fn runtime_rel(d: &str) -> Option<String> {
    d.strip_prefix("/run/")
        .or_else(|| d.strip_prefix("/var/run/"))
        .map(str::to_string)
}

/// Folders an instance owns: logs, includes, and pid/socket folders that are
/// not created by systemd.
pub(crate) fn supervisor_dirs(s: &Supervisor) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in [&s.logs_dir, &s.include_dir, &s.pid_dir, &s.socks_dir] {
        if runtime_rel(d).is_none() && !out.contains(d) {
            out.push(d.clone());
        }
    }
    out
}

/// The folder of the project that holds every file the roles send to the
/// hosts (`hadeploy_files_dir`): the description's copies and templates,
/// and each instance's files.
pub(crate) const SOURCES: &str = "files";

/// The roles' inputs (`crate::data`).
pub(crate) const DATA: &str = "vars/hadeploy.yml";

/// Where the `i`th file of the model is, under [`SOURCES`].
pub(crate) fn file_copy_path(i: usize, f: &hadeploy_model::File) -> String {
    let (folder, path) = match &f.src {
        FileSource::File { path } => ("copies", path),
        FileSource::Template { path } => ("templates", path),
        FileSource::Url { .. } => unreachable!("downloaded files are not copied"),
    };
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{folder}/{i:02}_{base}")
}

#[cfg(test)]
mod tests {
    /// The rule of the names supervisorctl shows, on the cases the module's
    /// reading of supervisord's answer is tested on too
    /// (`tests/fixtures/process-names.json`, tests/module).
    #[test]
    fn status_names_are_as_the_shared_cases_say() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/process-names.json");
        let cases: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cases = cases["cases"].as_array().unwrap();
        assert!(cases.len() >= 6, "{} cases", cases.len());
        for c in cases {
            let (group, name, shown) = (c[0].as_str().unwrap(), c[1].as_str().unwrap(), c[2].as_str().unwrap());
            assert_eq!(super::status_name(&format!("{group}:{name}")), shown, "{c}");
        }
    }
}
