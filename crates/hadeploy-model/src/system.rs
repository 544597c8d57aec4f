//! What belongs to the operating system, not to an application: folders,
//! files, accounts and groups that no description may create, take over or
//! remove (`remove` deletes what a description manages). One rule for every
//! path of the description, written once.

use std::borrow::Cow;

/// Folders `remove` must never delete nor `deploy` take over, whatever the
/// description says; [`is_system_path`] also covers the library folders
/// ([`LIB_DIRS`]).
pub const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/etc/systemd",
    "/etc/systemd/system",
    "/etc/sudoers.d",
    "/etc/ssh",
    "/home",
    "/lost+found",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/include",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/sbin",
    "/usr/sbin",
    "/usr/share",
    "/var",
    "/var/cache",
    "/var/lib",
    "/var/log",
    "/var/run",
    "/var/spool",
    "/var/tmp",
];

/// Files of the system a description's `files` must not replace.
pub const SYSTEM_FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/fstab",
    "/etc/crypttab",
    "/etc/ssh/sshd_config",
];

/// Accounts of Debian's base-passwd, RHEL's setup package and the daemons
/// both install: never created, changed nor removed by a description
/// (`managed: no` still refers to one). Every `systemd-*` account too.
pub const SYSTEM_USERS: &[&str] = &[
    "root",
    "daemon",
    "bin",
    "sys",
    "sync",
    "games",
    "man",
    "lp",
    "mail",
    "news",
    "uucp",
    "proxy",
    "www-data",
    "backup",
    "list",
    "irc",
    "gnats",
    "nobody",
    "_apt",
    "messagebus",
    "sshd",
    "syslog",
    "adm",
    "shutdown",
    "halt",
    "operator",
    "ftp",
    "dbus",
    "polkitd",
    "chrony",
    "_chrony",
    "rpc",
    "_rpc",
    "rpcuser",
    "nfsnobody",
    "tss",
    "sssd",
    "postfix",
    "ntp",
    "statd",
    "uuidd",
    "dnsmasq",
    "tcpdump",
    "avahi",
    "usbmux",
    "saned",
    "colord",
    "rtkit",
];

/// Groups of the same systems, those that grant privileges (`sudo`,
/// `wheel`, `adm`, `shadow`, `disk`...) among them: never created nor
/// removed by a description (`managed: no` still refers to one). Every
/// `systemd-*` group too.
pub const SYSTEM_GROUPS: &[&str] = &[
    "root",
    "daemon",
    "bin",
    "sys",
    "adm",
    "tty",
    "disk",
    "lp",
    "mail",
    "news",
    "uucp",
    "man",
    "proxy",
    "kmem",
    "dialout",
    "fax",
    "voice",
    "cdrom",
    "floppy",
    "tape",
    "sudo",
    "audio",
    "dip",
    "www-data",
    "backup",
    "operator",
    "list",
    "irc",
    "src",
    "gnats",
    "shadow",
    "utmp",
    "video",
    "sasl",
    "plugdev",
    "staff",
    "games",
    "users",
    "nogroup",
    "nobody",
    "wheel",
    "input",
    "kvm",
    "render",
    "sgx",
    "netdev",
    "crontab",
    "messagebus",
    "ssh",
    "_ssh",
    "polkitd",
    "docker",
    "lpadmin",
    "ftp",
    "lock",
    "dbus",
    "tss",
    "sssd",
    "chrony",
    "_chrony",
    "ssl-cert",
    "lxd",
];

/// `path` with `//` and `/./` collapsed and trailing `/` removed (`/` stays
/// `/`); `..` is kept (the model refuses it on its own).
pub fn normal_path(path: &str) -> Cow<'_, str> {
    let clean = path.starts_with('/')
        && !path.contains("//")
        && !path.contains("/./")
        && !path.ends_with("/.")
        && (path == "/" || !path.ends_with('/'));
    if clean {
        return Cow::Borrowed(path);
    }
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&parts.join("/"));
    if out.is_empty() {
        out.push('.');
    }
    Cow::Owned(out)
}

/// Whether a path on the hosts holds an Ansible expression
/// (`{{ app_home }}/logs`): only Ansible knows it, on each host, where the
/// generated roles check it as [`is_system_path`] and [`is_system_file`]
/// check the others when the project is generated.
pub fn rendered_on_host(path: &str) -> bool {
    path.contains("{{")
}

/// A path on the hosts as the model keeps it: normalised by
/// [`normal_path`], or, holding an Ansible expression
/// ([`rendered_on_host`]), as written but for its trailing `/`.
pub fn host_path(path: &str) -> Cow<'_, str> {
    if rendered_on_host(path) {
        Cow::Borrowed(path.trim_end_matches('/'))
    } else {
        normal_path(path)
    }
}

/// Whether `path` (normalised first) is a folder of the system:
/// [`SYSTEM_DIRS`], or `/lib*` and `/usr/lib*`.
pub fn is_system_path(path: &str) -> bool {
    let p = normal_path(path);
    let p = p.as_ref();
    SYSTEM_DIRS.contains(&p) || LIB_DIRS.contains(&p)
}

/// The library folders of the system, besides [`SYSTEM_DIRS`].
pub const LIB_DIRS: &[&str] = &[
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/libexec",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libx32",
    "/usr/libexec",
];

/// Whether `path` (normalised first) is a file of the system ([`SYSTEM_FILES`]).
pub fn is_system_file(path: &str) -> bool {
    SYSTEM_FILES.contains(&normal_path(path).as_ref())
}

/// Whether `name` is a system account.
pub fn is_system_user(name: &str) -> bool {
    SYSTEM_USERS.contains(&name) || name.starts_with("systemd-")
}

/// Whether `name` is a system group.
pub fn is_system_group(name: &str) -> bool {
    SYSTEM_GROUPS.contains(&name) || name.starts_with("systemd-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_compared_once_normalised() {
        for p in [
            "/",
            "//",
            "/etc/",
            "//etc",
            "/./etc/.",
            "/usr//lib64/",
            "/lib32",
            "/usr/libexec",
            "/opt/",
        ] {
            assert!(is_system_path(p), "{p}");
        }
        for p in ["/opt/app", "/etc/app", "/usr/lib/app", "/library", "/var/log/app/"] {
            assert!(!is_system_path(p), "{p}");
        }
        assert_eq!(normal_path("/a//b/./c/"), "/a/b/c");
        assert!(is_system_file("/etc//shadow"));
    }
}
