//! The second stage of hadeploy: renders the Ansible project (inventory,
//! variables, playbooks, roles, supervisor files) of a validated
//! [`hadeploy_model::Model`], and writes it to a folder it owns.
//!
//! Model -> per-file view structs (`views`) -> embedded templates
//! (`templates`, `roles-templates/`) -> [`Project`] (path -> bytes) ->
//! [`write()`]. The files there are many of or large (the roles' inputs,
//! each program's file) are written straight to text instead, by `data` and
//! `views`. User values only reach output through the quoting of [`quote`].

mod data;
#[cfg(feature = "fuzz")]
pub mod fuzz;
pub mod inputs;
mod layout;
pub mod quote;
mod templates;
mod views;
mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hadeploy_model::Model;

pub use data::sudoers_rule;
pub use write::{Drift, Lock, MARKER, MAX_SHOWN, OnDisk, WriteError, check, check_ours, lock, write, write_unless};

/// Choices that are not part of the description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `host_key_checking` in `ansible.cfg`; `None` keeps Ansible's default (on).
    pub host_key_checking: Option<bool>,
    /// Where the project will be written. With `source_dir`, local paths
    /// that stay outside the project (private keys) are written relative to
    /// it, since Ansible runs inside the project.
    pub project_dir: Option<PathBuf>,
    /// The folder the model's relative local paths start from (the current
    /// folder when the description was loaded), absolute.
    pub source_dir: Option<PathBuf>,
}

/// `path` as seen from `from`, both relative to the same folder (or both
/// absolute). An absolute `path` with a relative `from` is returned as is.
pub fn relative_to(path: &Path, from: &Path) -> PathBuf {
    use std::path::Component;
    if path.is_absolute() != from.is_absolute() {
        return path.to_path_buf();
    }
    fn clean(p: &Path) -> Vec<Component<'_>> {
        let mut out: Vec<Component<'_>> = Vec::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                    out.pop();
                }
                c => out.push(c),
            }
        }
        out
    }
    let (p, f) = (clean(path), clean(from));
    let common = p.iter().zip(&f).take_while(|(a, b)| a == b).count();
    // Climbing out of a `..` of `from` cannot be expressed without the real folder names.
    if f[common..].iter().any(|c| !matches!(c, Component::Normal(_))) {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// Largest project generated, all files together but the `file://`
/// sources it copies (streamed, and written once whatever the number of
/// hosts). The 5000-program, 100-host benchmark writes about 60 MiB; a
/// description whose variables multiply past this (a long value used in
/// many paths on many hosts) is refused instead of filling the disk and
/// the memory.
pub const MAX_PROJECT_BYTES: usize = 256 << 20;

/// A generated project: relative path -> content, sorted, so that the same
/// model always gives the same bytes.
pub type Project = BTreeMap<String, Content>;

/// One file of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Generated text (or a template's bytes), held in memory.
    Bytes(Vec<u8>),
    /// A `file://` source, copied as it is when the project is written:
    /// streamed, never held in memory, whatever its size.
    Copy(Copied),
}

/// A local file a project copies, as it was when the project was rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The local file.
    pub from: PathBuf,
    /// Its size in bytes.
    pub len: u64,
    /// Its SHA-1, hex, as Ansible writes checksums.
    pub sha1: String,
}

impl Content {
    /// The bytes, for generated files; `None` for a copy.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Content::Bytes(b) => Some(b),
            Content::Copy(_) => None,
        }
    }

    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::Copy(c) => c.len,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Vec<u8>> for Content {
    fn from(b: Vec<u8>) -> Self {
        Content::Bytes(b)
    }
}

/// Why a project could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A local source file (`file://`, `tmpl://`, key) could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A value cannot be written safely where it has to go.
    #[error("{what}: {reason}")]
    Value {
        /// What the value belongs to, e.g. "supervisor `tsupv`".
        what: String,
        /// Why it cannot be written.
        reason: String,
    },
    /// The project would be larger than [`MAX_PROJECT_BYTES`].
    #[error("the project would be larger than {} MiB (reached at `{at}`)", MAX_PROJECT_BYTES >> 20)]
    TooLarge {
        /// The file being added when the limit was crossed.
        at: String,
    },
    /// A template failed (a bug, or a value refused by a quoting filter).
    #[error("cannot render `{template}`: {message}")]
    Template {
        /// The template.
        template: String,
        /// Tera's message, with its causes.
        message: String,
    },
}

impl RenderError {
    fn template(template: &str, e: &tera::Error) -> Self {
        let mut message = e.to_string();
        let mut cause = std::error::Error::source(e);
        while let Some(c) = cause {
            message.push_str(": ");
            message.push_str(&c.to_string());
            cause = c.source();
        }
        RenderError::Template {
            template: template.to_string(),
            message,
        }
    }
}

/// Renders the whole Ansible project of `model`.
///
/// # Errors
/// A local source that cannot be read, or a value that cannot be written
/// safely (e.g. an environment value holding both kinds of quotes).
pub fn render(model: &Model, opts: &Options) -> Result<Project, RenderError> {
    let tera = templates::engine().map_err(|e| RenderError::template("(engine)", &e))?;
    views::Renderer::new(model, opts, &tera).render()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::relative_to;

    #[test]
    fn paths_outside_the_project_are_seen_from_it() {
        let rel = |p: &str, f: &str| relative_to(Path::new(p), Path::new(f)).display().to_string();
        assert_eq!(rel("keys/root_id", "hadeploy-work"), "../keys/root_id");
        assert_eq!(rel("./app/keys/id", "build/./work"), "../../app/keys/id");
        assert_eq!(rel("/etc/keys/id", "/srv/work"), "../../etc/keys/id");
        assert_eq!(rel("/etc/keys/id", "work"), "/etc/keys/id");
        assert_eq!(rel("keys/id", "../elsewhere"), "keys/id");
    }
}
