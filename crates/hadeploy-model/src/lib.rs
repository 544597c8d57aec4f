//! The first stage of hadeploy: reads the application description (YAML
//! files, `include`, `vars`) into one tree with source positions, then types,
//! resolves and validates it into a [`Model`] that code generation renders.
//!
//! Files -> [`load`](load::SrcArg) (merged tree) -> [`Model`]. Nothing here
//! knows about Ansible; nothing downstream knows about YAML.

mod error;
pub mod expr;
pub mod format;
pub mod fuzz;
mod input;
mod jinja;
mod keys;
mod load;
mod model;
mod program_settings;
mod read;
mod resolve;
mod schema;
mod secret;
mod span;
pub mod system;
mod tree;

pub use error::{Diagnostic, Diagnostics, ErrorKind, MAX_ERRORS};
pub use format::SECTIONS;
pub use keys::MAX_KEY_FILE;
pub use load::{Loaded, SrcArg};
pub use load::{MAX_FILES, MAX_INCLUDE_DEPTH, MAX_SOURCE_BYTES};
pub use model::*;
pub use resolve::{InventoryLister, Listed, MAX_PLACEMENTS};
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
    load_with(srcs, &LoadOptions::default())
}

/// What the caller tells [`load_with`] beyond the description.
#[derive(Clone, Copy, Default)]
pub struct LoadOptions<'a> {
    /// The folder the project is written into: a description file, key,
    /// template or inventory inside it would be deleted with it at the next
    /// run, and is refused.
    pub working_folder: Option<&'a std::path::Path>,
    /// Reads `ansible_inventories` as Ansible reads them; without it, the
    /// built-in readers of the INI and YAML formats do.
    pub inventories: Option<&'a dyn InventoryLister>,
}

/// [`load`], with the caller's [`LoadOptions`].
///
/// # Errors
/// As [`load`].
pub fn load_with(srcs: &[SrcArg], opts: &LoadOptions) -> Result<Model, Diagnostics> {
    let mut sink = Sink::default();
    let loaded = load::load(srcs, &mut sink);
    let check = |sink: &mut Sink| {
        if let Some(dir) = opts.working_folder {
            check_outside(&loaded.sources, dir, sink);
        }
    };
    // Typing a tree the loader could not finish would only repeat its errors.
    if !sink.is_empty() {
        check(&mut sink);
        return Err(fail(sink, loaded.sources));
    }
    let model = resolve::resolve(&loaded, opts.inventories, &mut sink);
    check(&mut sink);
    if sink.is_empty() {
        Ok(model)
    } else {
        Err(fail(sink, loaded.sources))
    }
}

/// Refuses every input noted that lies inside `dir` (each place once).
fn check_outside(sources: &SourceMap, dir: &std::path::Path, sink: &mut Sink) {
    let Some(dir) = absolute(dir) else { return };
    let mut seen = std::collections::HashSet::new();
    for (path, at) in sources.inputs() {
        let Some(abs) = absolute(&path) else { continue };
        if !abs.starts_with(&dir) || !seen.insert((abs, at.map(|s| (s.file, s.line, s.col)))) {
            continue;
        }
        let kind = ErrorKind::InvalidValue {
            key: "local path".into(),
            reason: format!(
                "`{}` is inside the working folder `{}`, which every run deletes and writes anew",
                path.display(),
                dir.display()
            ),
        };
        let d = match at {
            Some(span) => Diagnostic::new(kind, span),
            None => Diagnostic::unplaced(kind),
        };
        sink.push(d.help("move it out of the working folder, or give another `--workingFolder`"));
    }
}

/// `path` made absolute with the links of its existing part resolved, so
/// that `./work/../work/app.yml` and a link into the folder are both seen.
fn absolute(path: &std::path::Path) -> Option<std::path::PathBuf> {
    let abs = std::path::absolute(path).ok()?;
    // The longest existing ancestor, resolved, then the rest as written.
    let mut rest = Vec::new();
    let mut base = abs.as_path();
    loop {
        if let Ok(real) = base.canonicalize() {
            return Some(rest.iter().rev().fold(real, |p, c| p.join(c)));
        }
        rest.push(base.file_name()?.to_owned());
        base = base.parent()?;
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
