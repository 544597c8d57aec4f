//! `authorized_keys` files: only OpenSSH public keys get through, each line
//! as sshd reads it in `~/.ssh/authorized_keys` (options, then the key
//! type, the base64 key and a comment). A private key, a password file or
//! any other text is refused by line number, never quoted.

use std::path::Path;

use ssh_key::PublicKey;

/// Largest public key file read; an `authorized_keys` file of a thousand
/// RSA keys is under 1 MiB.
pub const MAX_KEY_FILE: u64 = 1 << 20;

/// Why a key file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyFileError {
    /// It cannot be read (missing, not a regular file, too large, not text).
    Read(String),
    /// It holds a private key.
    Private,
    /// It holds a public key in the SSH2 (RFC 4716) format.
    Rfc4716,
    /// Line `n` (from 1) is not an OpenSSH public key.
    NotAKey(usize),
    /// It holds no key at all.
    Empty,
}

/// The key lines of the public key file at `path`, each checked, without
/// blank lines and comments.
pub(crate) fn read_authorized_keys(path: &Path) -> Result<Vec<String>, KeyFileError> {
    let text = crate::input::read_text(path, MAX_KEY_FILE).map_err(KeyFileError::Read)?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if (line.starts_with("-----BEGIN") && line.contains("PRIVATE KEY")) || line.starts_with("PuTTY-User-Key-File-")
        {
            return Err(KeyFileError::Private);
        }
        if line.starts_with("---- BEGIN SSH2 PUBLIC KEY") {
            return Err(KeyFileError::Rfc4716);
        }
        if !is_authorized_key(line) {
            return Err(KeyFileError::NotAKey(n + 1));
        }
        keys.push(line.to_string());
    }
    if keys.is_empty() {
        return Err(KeyFileError::Empty);
    }
    Ok(keys)
}

/// One line of sshd's AUTHORIZED_KEYS format: `[options] keytype base64 [comment]`.
pub(crate) fn is_authorized_key(line: &str) -> bool {
    if line.contains(['\n', '\r', '\0']) {
        return false;
    }
    if PublicKey::from_openssh(line).is_ok() {
        return true;
    }
    // Options end at the first blank outside double quotes
    // (`command="a b",no-pty ssh-ed25519 ...`).
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => {
                let (opts, key) = (&line[..i], line[i..].trim_start());
                return are_options(opts) && PublicKey::from_openssh(key).is_ok();
            }
            _ => {}
        }
    }
    false
}

/// The options sshd knows (`sshd(8)`, AUTHORIZED_KEYS FILE FORMAT); it
/// refuses a key line with any other.
const OPTIONS: &[&str] = &[
    "agent-forwarding",
    "cert-authority",
    "command",
    "environment",
    "expiry-time",
    "from",
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-pty",
    "no-touch-required",
    "no-user-rc",
    "no-x11-forwarding",
    "permitlisten",
    "permitopen",
    "port-forwarding",
    "principals",
    "pty",
    "restrict",
    "tunnel",
    "user-rc",
    "verify-required",
    "x11-forwarding",
];

/// A comma-separated list of sshd options: `name` or `name="value"`, names
/// in any case, `\"` inside a value. (ssh-key's own check refuses blanks
/// inside quoted values, which sshd accepts.)
fn are_options(opts: &str) -> bool {
    let mut rest = opts;
    loop {
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_len);
        if !OPTIONS.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            return false;
        }
        rest = after;
        if let Some(value) = rest.strip_prefix("=\"") {
            let mut escaped = false;
            let Some(end) = value.char_indices().find_map(|(i, c)| match c {
                _ if escaped => {
                    escaped = false;
                    None
                }
                '\\' => {
                    escaped = true;
                    None
                }
                '"' => Some(i),
                _ => None,
            }) else {
                return false;
            };
            rest = &value[end + 1..];
        }
        match rest.strip_prefix(',') {
            Some(more) => rest = more,
            None => return rest.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGfZzrE7j0Qz9oMrQvJeD5oQ3Kd3XHOgzKLMsUQNY5Pz";

    #[test]
    fn accepts_keys_with_options_and_comments() {
        assert!(is_authorized_key(ED25519));
        assert!(is_authorized_key(&format!("{ED25519} tsup@en1")));
        assert!(is_authorized_key(&format!("{ED25519} a comment with spaces")));
        assert!(is_authorized_key(&format!("no-pty,from=\"10.0.0.0/8\" {ED25519} c")));
        assert!(is_authorized_key(&format!("command=\"echo a b\",no-pty {ED25519}")));
        assert!(is_authorized_key(&format!(
            "restrict,command=\"say \\\"hi\\\"\" {ED25519}"
        )));
    }

    #[test]
    fn refuses_anything_else() {
        for line in [
            "root:$y$j9T$abc:19000:0:99999:7:::",
            "ssh-ed25519 AAAA",
            "ssh-ed25519",
            &format!("bad option {ED25519}"),
            &format!("bogus {ED25519}"),
            &format!("command=\"unclosed {ED25519}"),
            &ED25519[..60],
        ] {
            assert!(!is_authorized_key(line), "{line}");
        }
    }
}
