//! Source positions, independent of the YAML parser.

use std::path::{Path, PathBuf};

/// Index of a loaded source in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub(crate) u32);

/// A position in a loaded source: a file, a 1-based line and a 1-based column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// The source the position is in.
    pub file: FileId,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub col: u32,
}

/// One loaded source: a file, or the command line for `--src name=value`.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as the user would recognise it: as given, or joined to the
    /// folder of the file that included it.
    pub path: PathBuf,
    /// The text, kept so that errors can quote the offending line.
    pub text: String,
    /// Whether errors may quote its lines: not for a file that turned out
    /// not to be a description.
    pub quotable: bool,
}

/// Every source read during one load, addressed by [`FileId`].
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    sources: Vec<Source>,
    /// Every local file or folder the description names (includes, keys,
    /// templates, inventories...), with where it is named: noted as paths
    /// are resolved, checked at the end of the load.
    inputs: std::cell::RefCell<Vec<(PathBuf, Option<Span>)>>,
}

impl SourceMap {
    /// Records a source and returns its id.
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        let id = FileId(u32::try_from(self.sources.len()).expect("fewer than 4G sources"));
        self.sources.push(Source {
            path,
            text,
            quotable: true,
        });
        id
    }

    /// Keeps the source's path but drops its text, so that no error quotes
    /// it: for a file that turned out not to be a description.
    pub(crate) fn forget_text(&mut self, id: FileId) {
        let source = &mut self.sources[id.0 as usize];
        source.text = String::new();
        source.quotable = false;
    }

    /// Notes a local path the description reads, named at `at`.
    pub(crate) fn note_input(&self, path: PathBuf, at: Option<Span>) {
        self.inputs.borrow_mut().push((path, at));
    }

    /// Every local path noted, with where it is named.
    pub(crate) fn inputs(&self) -> Vec<(PathBuf, Option<Span>)> {
        self.inputs.borrow().clone()
    }

    /// The source behind an id.
    pub fn get(&self, id: FileId) -> &Source {
        &self.sources[id.0 as usize]
    }

    /// The folder relative paths named in a source are resolved against.
    pub fn dir_of(&self, id: FileId) -> &Path {
        self.get(id).path.parent().unwrap_or(Path::new(""))
    }

    /// The text of line `line` (1-based) of a source, if it exists, lines
    /// counted as the YAML parser counts them ([`yaml_lines`]).
    pub fn line_text(&self, span: Span) -> Option<&str> {
        let source = self.get(span.file);
        if !source.quotable {
            return None;
        }
        yaml_lines(&source.text).nth((span.line as usize).checked_sub(1)?)
    }
}

/// The lines of a text as YAML counts them: `\n`, `\r\n` and a lone `\r`
/// each end one, so that a position the parser gives in a file with old
/// Mac line endings quotes the right line.
pub fn yaml_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .flat_map(|piece| piece.strip_suffix('\r').unwrap_or(piece).split('\r'))
}
