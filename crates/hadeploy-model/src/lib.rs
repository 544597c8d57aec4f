//! The first stage of hadeploy: reads the application description (YAML
//! files, `include`, `vars`) into one tree with source positions, then types,
//! resolves and validates it into a [`Model`] that code generation renders.
//!
//! Files -> [`load`](load::SrcArg) (merged tree) -> [`Model`]. Nothing here
//! knows about Ansible; nothing downstream knows about YAML.

mod build;
mod error;
pub mod format;
pub mod fuzz;
mod input;
mod keys;
mod load;
mod model;
mod read;
mod schema;
mod secret;
mod span;
pub mod system;
mod tree;

pub use build::MAX_PLACEMENTS;
pub use error::{Diagnostic, Diagnostics, ErrorKind, MAX_ERRORS};
pub use format::SECTIONS;
pub use keys::MAX_KEY_FILE;
pub use load::{Loaded, SrcArg};
pub use load::{MAX_FILES, MAX_INCLUDE_DEPTH, MAX_SOURCE_BYTES};
pub use model::*;
pub use schema::{SCHEMA_DRAFT, json_schema};
pub use secret::{Hidden, REDACTED, SECRET_KEYS, redact_line};
pub use span::{FileId, Source, SourceMap, Span, yaml_lines};
pub use system::{SYSTEM_DIRS, is_system_path};
pub use tree::{MAX_DEPTH, MAX_FILE, MAX_NODES, MAX_SCALAR, MAX_VALUE_BYTES};

use error::Sink;

/// Loads, merges and validates the description in `srcs` (in order).
///
/// # Errors
/// Every problem found, up to [`MAX_ERRORS`], each with its position.
pub fn load(srcs: &[SrcArg]) -> Result<Model, Diagnostics> {
    let mut sink = Sink::default();
    let loaded = load::load(srcs, &mut sink);
    // Typing a tree the loader could not finish would only repeat its errors.
    if !sink.is_empty() {
        return Err(fail(sink, loaded.sources));
    }
    let model = build::build(&loaded, &mut sink);
    if sink.is_empty() {
        Ok(model)
    } else {
        Err(fail(sink, loaded.sources))
    }
}

fn fail(mut sink: Sink, sources: SourceMap) -> Diagnostics {
    // In reading order, whatever order the checks ran in.
    sink.errors.sort_by_key(|d| d.span.map(|s| (s.file, s.line, s.col)));
    Diagnostics {
        errors: sink.errors,
        omitted: sink.omitted,
        sources,
    }
}
