//! Secret values never printed: the keys that hold them, and the one
//! function that hides their values in a line of YAML, INI or supervisor
//! configuration before the line is shown (an error's snippet, a diff).

use std::borrow::Cow;

/// Keys whose value is a secret, as the description writes them
/// ([`format`](crate::format) lists them; a test keeps the two in step) and
/// as the generated project and Ansible inventories write them. `dump`
/// prints each as `<redacted>`.
pub const SECRET_KEYS: &[&str] = &[
    // The description.
    "ssh_password",
    "become_pass",
    "password",
    "url_password",
    // Ansible's names, in inventories and the generated project.
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_ssh_password",
    "ansible_become_password",
    "ansible_become_pass",
];

/// What a hidden value is shown as.
pub const REDACTED: &str = "<redacted>";

/// One hidden value of a line: bytes `start..end` became [`REDACTED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hidden {
    /// Where the value started, in bytes.
    pub start: usize,
    /// Where it ended, in the line as it was.
    pub end: usize,
}

/// `line` with the value of every [`SECRET_KEYS`] key replaced by
/// [`REDACTED`]: `key: value` and `key=value`, block or flow style
/// (`{ login: a, password: b }`, where the value ends at `,` or `}`),
/// the key quoted or not. Returns the line unchanged when it holds none.
pub fn redact_line(line: &str) -> (Cow<'_, str>, Vec<Hidden>) {
    let hidden = secret_values(line);
    if hidden.is_empty() {
        return (Cow::Borrowed(line), hidden);
    }
    (Cow::Owned(hide(line, &hidden)), hidden)
}

/// `line` with each of the `hidden` ranges (in order, apart) replaced by [`REDACTED`].
pub(crate) fn hide(line: &str, hidden: &[Hidden]) -> String {
    let mut out = String::with_capacity(line.len());
    let mut last = 0;
    for h in hidden {
        out.push_str(&line[last..h.start]);
        out.push_str(REDACTED);
        last = h.end;
    }
    out.push_str(&line[last..]);
    out
}

/// The byte ranges of the secret values of a line, in order.
fn secret_values(line: &str) -> Vec<Hidden> {
    let b = line.as_bytes();
    let mut out: Vec<Hidden> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        // A key starts a line, or follows a separator (or a diff's `+`).
        let starts_key = i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'{' | b',' | b'-' | b'+' | b'"' | b'\'' | b'[');
        let at = if starts_key {
            SECRET_KEYS.iter().find(|k| {
                line[i..].starts_with(*k)
                    && !b
                        .get(i + k.len())
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            })
        } else {
            None
        };
        let Some(key) = at else {
            i += 1;
            continue;
        };
        let mut j = i + key.len();
        if matches!(b.get(j), Some(b'"' | b'\'')) {
            j += 1;
        }
        while matches!(b.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        let sep = b.get(j).copied();
        let is_sep = match sep {
            Some(b':') => matches!(b.get(j + 1), None | Some(b' ' | b'\t')),
            Some(b'=') => true,
            _ => false,
        };
        if !is_sep {
            i += key.len();
            continue;
        }
        let mut start = j + 1;
        while matches!(b.get(start), Some(b' ' | b'\t')) {
            start += 1;
        }
        let end = value_end(line, start);
        if end > start {
            out.push(Hidden { start, end });
        }
        i = end.max(i + key.len());
    }
    for h in url_passwords(line) {
        if !out.iter().any(|o| o.start <= h.start && h.end <= o.end) {
            out.push(h);
        }
    }
    out.sort_by_key(|h| h.start);
    out
}

/// `text` with the password of every URL written with credentials
/// (`scheme://user:password@host`) replaced by [`REDACTED`].
pub fn redact_urls(text: &str) -> Cow<'_, str> {
    let hidden = url_passwords(text);
    if hidden.is_empty() {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(hide(text, &hidden))
    }
}

/// Whether `key` holds a secret ([`SECRET_KEYS`]).
pub fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS.contains(&key)
}

/// Whether `line` names a [`SECRET_KEYS`] key as a map key (`password:`,
/// `- ssh_password: ...`, quoted or not): the lines below it that are
/// indented more belong to its value.
pub(crate) fn opens_secret(line: &str) -> bool {
    let t = line.trim_start().trim_start_matches("- ").trim_start();
    let t = t.trim_start_matches(['"', '\'']);
    SECRET_KEYS.iter().any(|k| {
        t.strip_prefix(k).is_some_and(|rest| {
            let rest = rest.trim_start_matches(['"', '\'']).trim_start();
            rest.strip_prefix(':')
                .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
        })
    })
}

/// The passwords of URLs written with credentials (`scheme://user:password@host`),
/// whatever key holds them: a `url` of `files`, a health check's `http`.
fn url_passwords(line: &str) -> Vec<Hidden> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = line[from..].find("://") {
        let start = from + at + 3;
        // The authority ends where the path, query or fragment starts, or
        // where the value does.
        let end = b[start..]
            .iter()
            .position(|c| matches!(c, b'/' | b'?' | b'#' | b' ' | b'\t' | b'"' | b'\'' | b',' | b'}'))
            .map_or(b.len(), |n| start + n);
        if let Some(userinfo) = line[start..end].rfind('@').map(|n| &line[start..start + n])
            && let Some(colon) = userinfo.find(':')
            && colon + 1 < userinfo.len()
        {
            out.push(Hidden {
                start: start + colon + 1,
                end: start + userinfo.len(),
            });
        }
        from = end.max(start);
    }
    out
}

/// Where the value starting at byte `start` of `line` ends: at the end of
/// the line, or in a flow map (`{ ... }`) at the next `,` or `}` outside
/// quotes; trailing blanks are not part of it.
pub(crate) fn value_end(line: &str, start: usize) -> usize {
    let b = line.as_bytes();
    let flow = b[..start].contains(&b'{');
    let mut end = start;
    let mut quote = None;
    while end < b.len() {
        let c = b[end];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if flow && (c == b',' || c == b'}') => break,
            None => {}
        }
        end += 1;
    }
    while end > start && matches!(b[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(line: &str) -> String {
        redact_line(line).0.into_owned()
    }

    #[test]
    fn hides_secret_values_in_every_style() {
        assert_eq!(r("    ssh_password: hunter2"), "    ssh_password: <redacted>");
        assert_eq!(
            r("  - { login: a, password: \"x, y\" }"),
            "  - { login: a, password: <redacted> }"
        );
        assert_eq!(
            r("en1 ansible_password=s3cret ansible_user=u"),
            "en1 ansible_password=<redacted>"
        );
        assert_eq!(r("password=abc"), "password=<redacted>");
        assert_eq!(r("\"url_password\": 'p'"), "\"url_password\": <redacted>");
        assert_eq!(r("  become_pass:"), "  become_pass:");
        assert_eq!(r("  ssh_password_file: x"), "  ssh_password_file: x");
        assert_eq!(r("  passwords: x"), "  passwords: x");
        assert_eq!(r("  my_password: x"), "  my_password: x");
        assert_eq!(r("  login: password"), "  login: password");
    }

    #[test]
    fn hides_the_passwords_of_urls() {
        assert_eq!(
            r("  healthcheck: { http: \"http://admin:s3cret@127.0.0.1:8080/health\" }"),
            "  healthcheck: { http: \"http://admin:<redacted>@127.0.0.1:8080/health\" }"
        );
        assert_eq!(
            r("- { url: https://u:p%40ss@repo/x.tgz, dest: /x, password: q }"),
            "- { url: https://u:<redacted>@repo/x.tgz, dest: /x, password: <redacted> }"
        );
        assert_eq!(
            r("url: https://u:p@h?a=1 and ftp://v:w@k"),
            "url: https://u:<redacted>@h?a=1 and ftp://v:<redacted>@k"
        );
        // No password, or no credentials: nothing to hide.
        assert_eq!(r("url: https://token@repo/x"), "url: https://token@repo/x");
        assert_eq!(r("url: https://repo/a@b:c"), "url: https://repo/a@b:c");
        assert_eq!(r("command: echo ://"), "command: echo ://");
    }
}
