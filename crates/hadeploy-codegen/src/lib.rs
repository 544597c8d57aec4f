//! The second stage of hadeploy: renders the Ansible project (inventory,
//! variables, playbooks, roles, supervisor files) of a validated
//! [`Model`](hadeploy_model::Model), and writes it to a folder it owns.
//!
//! Model -> per-file view structs ([`views`]) -> embedded templates
//! ([`templates`], `roles-templates/`) -> [`Project`] (path -> bytes) ->
//! [`write`]. User values only reach output through the quoting of [`quote`].

pub mod quote;
mod templates;
mod views;
mod write;

use std::collections::BTreeMap;
use std::path::PathBuf;

use hadeploy_model::Model;

pub use write::{MARKER, WriteError, check, write};

/// Choices that are not part of the description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `host_key_checking` in `ansible.cfg`; `None` keeps Ansible's default (on).
    pub host_key_checking: Option<bool>,
}

/// A generated project: relative path -> content, sorted, so that the same
/// model always gives the same bytes.
pub type Project = BTreeMap<String, Vec<u8>>;

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
