//! A program's supervisor settings, each declared once, in the order of the
//! lines of its `[program:NAME]` section: its key, its Rust type, its type
//! in a description, and how its line is written. The table is a macro that
//! hands itself to another: `format.rs` makes the keys a description may
//! give of it (so the reader accepts them and the JSON Schema lists them),
//! `model.rs` the fields of [`ProgramSettings`](crate::ProgramSettings) and
//! [`ini_lines`](crate::ProgramSettings::ini_lines), which the project's
//! writer writes. A setting added here is accepted, must be read (the
//! reader builds the struct whole: one it forgets fails to compile) and is
//! written; what is left to add is its reader's line, its test and its
//! line in docs/description.md.

use indexmap::IndexMap;

/// Calls the macro `$then` with every setting, as
/// `key: Rust type, description type (format's Ty), INI writer (of ini);`.
macro_rules! program_settings {
    ($then:ident) => {
        $then! {
            process_name: Option<String>, Ty::Str, format;
            numprocs: u32, Ty::Int { min: 1, max: 1000 }, unless_one;
            numprocs_start: Option<u32>, U32, plain;
            priority: Option<i64>, PRIORITY, plain;
            autostart: bool, Ty::Bool, flag;
            startsecs: Option<u32>, U32, plain;
            startretries: Option<u32>, U32, plain;
            autorestart: Option<String>, Ty::Autorestart, text;
            exitcodes: Option<Vec<u8>>, Ty::ExitCodes, codes;
            stopsignal: Option<String>, Ty::Signal, text;
            stopwaitsecs: Option<u32>, U32, plain;
            stopasgroup: Option<bool>, Ty::Bool, plain;
            killasgroup: Option<bool>, Ty::Bool, plain;
            user: Option<String>, Ty::Str, text;
            redirect_stderr: Option<bool>, Ty::Bool, plain;
            stdout_logfile: Option<String>, Ty::Str, text;
            stdout_logfile_maxbytes: Option<String>, Ty::Size, text;
            stdout_logfile_backups: Option<u32>, U32, plain;
            stdout_syslog: Option<bool>, Ty::Bool, plain;
            stderr_logfile: Option<String>, Ty::Str, text;
            stderr_logfile_maxbytes: Option<String>, Ty::Size, text;
            stderr_logfile_backups: Option<u32>, U32, plain;
            stderr_syslog: Option<bool>, Ty::Bool, plain;
            directory: Option<String>, Ty::Str, text;
            umask: Option<String>, Ty::Mode, text;
            environment: IndexMap<String, String>, Ty::Environment, environment;
        }
    };
}
pub(crate) use program_settings;

/// A setting's value on its line, as the project's writer quotes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ini<'a> {
    /// Written as it is: a number, `true` or `false`.
    Plain(String),
    /// Text supervisor takes as it is once its `%` are doubled.
    Text(&'a str),
    /// A name supervisor expands (`%(program_name)s_%(process_num)02d`).
    Format(&'a str),
    /// Exit codes, joined with `,`.
    Codes(&'a [u8]),
    /// The environment's `KEY="value"` pairs, joined with `,`.
    Environment(&'a IndexMap<String, String>),
}

/// The INI writers the table names: a value, or `None` where the line is
/// left out (supervisor's default).
pub(crate) mod ini {
    use indexmap::IndexMap;

    use super::Ini;

    pub(crate) fn plain<T: ToString>(v: &Option<T>) -> Option<Ini<'_>> {
        v.as_ref().map(|v| Ini::Plain(v.to_string()))
    }

    pub(crate) fn flag(v: &bool) -> Option<Ini<'_>> {
        Some(Ini::Plain(v.to_string()))
    }

    /// A count written where it is not supervisor's default of 1.
    pub(crate) fn unless_one(v: &u32) -> Option<Ini<'_>> {
        (*v != 1).then(|| Ini::Plain(v.to_string()))
    }

    pub(crate) fn text(v: &Option<String>) -> Option<Ini<'_>> {
        v.as_deref().map(Ini::Text)
    }

    pub(crate) fn format(v: &Option<String>) -> Option<Ini<'_>> {
        v.as_deref().map(Ini::Format)
    }

    pub(crate) fn codes(v: &Option<Vec<u8>>) -> Option<Ini<'_>> {
        v.as_deref().map(Ini::Codes)
    }

    pub(crate) fn environment(v: &IndexMap<String, String>) -> Option<Ini<'_>> {
        (!v.is_empty()).then_some(Ini::Environment(v))
    }
}
