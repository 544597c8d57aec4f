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

/// Folders whose whole content is the system's: nothing inside them is
/// created, taken over or removed by a description (PAM, cron, sshd,
/// sudo, systemd, the package managers' databases, root's home, the
/// kernel's file systems, systemd's and other daemons' runtime folders).
/// `/var/run/X` is `/run/X`.
pub const SYSTEM_TREES: &[&str] = &[
    "/boot",
    "/dev",
    "/proc",
    "/root",
    "/sys",
    "/etc/apt",
    "/etc/cron.d",
    "/etc/cron.daily",
    "/etc/cron.hourly",
    "/etc/cron.monthly",
    "/etc/cron.weekly",
    "/etc/dbus-1",
    "/etc/default",
    "/etc/init.d",
    "/etc/ld.so.conf.d",
    "/etc/logrotate.d",
    "/etc/modprobe.d",
    "/etc/pam.d",
    "/etc/pki",
    "/etc/polkit-1",
    "/etc/profile.d",
    "/etc/rc.d",
    "/etc/security",
    "/etc/selinux",
    "/etc/ssh",
    "/etc/ssl",
    "/etc/sudoers.d",
    "/etc/sysctl.d",
    "/etc/systemd",
    "/etc/udev",
    "/etc/yum.repos.d",
    "/run/dbus",
    "/run/lock",
    "/run/sshd",
    "/run/systemd",
    "/run/user",
    "/var/lib/apt",
    "/var/lib/dpkg",
    "/var/lib/rpm",
    "/var/lib/systemd",
    "/var/lib/yum",
    "/var/lib/dnf",
    "/var/log/journal",
    "/var/spool/cron",
];

/// Files of the system a description's `files` must not replace.
pub const SYSTEM_FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/passwd-",
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/group",
    "/etc/group-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/subuid",
    "/etc/subgid",
    "/etc/sudoers",
    "/etc/fstab",
    "/etc/crypttab",
    "/etc/ssh/sshd_config",
    "/etc/crontab",
    "/etc/anacrontab",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/ld.so.preload",
    "/etc/ld.so.conf",
    "/etc/login.defs",
    "/etc/environment",
    "/etc/profile",
    "/etc/bash.bashrc",
    "/etc/bashrc",
    "/etc/sysctl.conf",
    "/etc/securetty",
    "/etc/pam.conf",
    "/etc/machine-id",
    "/etc/rc.local",
];

/// Groups whose members get root's powers or read what only root should:
/// a user joins one only when its description says
/// `privileged_groups: yes`.
pub const PRIVILEGED_GROUPS: &[&str] = &[
    "root",
    "sudo",
    "wheel",
    "admin",
    "adm",
    "shadow",
    "disk",
    "kmem",
    "sys",
    "staff",
    "operator",
    "docker",
    "lxd",
    "libvirt",
    "kvm",
    "systemd-journal",
    "systemd-network",
];

/// Whether `name` is one of [`PRIVILEGED_GROUPS`].
pub fn is_privileged_group(name: &str) -> bool {
    PRIVILEGED_GROUPS.contains(&name)
}

/// `path` (normalised) inside one of [`SYSTEM_TREES`], or one itself; a
/// path under `/var/run` as under `/run`.
fn in_system_tree(p: &str) -> bool {
    // /var/run is a link to /run: only itself and what is under it.
    let p = match p.strip_prefix("/var/run") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => Cow::Owned(format!("/run{rest}")),
        _ => Cow::Borrowed(p),
    };
    SYSTEM_TREES
        .iter()
        .any(|t| p.as_ref() == *t || p.strip_prefix(t).is_some_and(|rest| rest.starts_with('/')))
}

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
/// [`SYSTEM_DIRS`], `/lib*` and `/usr/lib*`, or anything inside
/// [`SYSTEM_TREES`].
pub fn is_system_path(path: &str) -> bool {
    let p = normal_path(path);
    let p = p.as_ref();
    SYSTEM_DIRS.contains(&p) || LIB_DIRS.contains(&p) || in_system_tree(p)
}

/// Whether a path of a description's folder or file, as a host sees it, is
/// refused: not absolute, holding `..`, or the system's ([`is_system_path`],
/// [`is_system_file`]). The collection's action plugin applies the same rule
/// to the paths Ansible renders on each host; both test suites run the
/// cases of `tests/fixtures/host-paths.json`.
pub fn host_path_refused(path: &str) -> bool {
    !path.starts_with('/')
        || normal_path(path).split('/').any(|c| c == "..")
        || is_system_path(path)
        || is_system_file(path)
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

/// Whether `path` (normalised first) is a file of the system
/// ([`SYSTEM_FILES`]), or inside [`SYSTEM_TREES`].
pub fn is_system_file(path: &str) -> bool {
    let p = normal_path(path);
    SYSTEM_FILES.contains(&p.as_ref()) || in_system_tree(&p)
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
        for p in [
            "/opt/app",
            "/etc/app",
            "/usr/lib/app",
            "/library",
            "/var/log/app/",
            "/run/supervisor_x",
            "/rooted",
        ] {
            assert!(!is_system_path(p), "{p}");
        }
        // Found accepted, and removed whole by `remove`, before.
        for p in [
            "/etc/pam.d",
            "/etc/cron.d",
            "/etc/logrotate.d",
            "/root/.ssh",
            "/var/lib/dpkg",
            "/var/lib/dpkg/info",
            "/var/run/systemd",
            "/run/user/1000",
            "/run/lock",
        ] {
            assert!(is_system_path(p), "{p}");
        }
        for f in [
            "/etc/hosts",
            "/etc/crontab",
            "/etc/ld.so.preload",
            "/etc/ssh/ssh_config",
            "/root/.ssh/authorized_keys",
        ] {
            assert!(is_system_file(f), "{f}");
        }
        assert_eq!(normal_path("/a//b/./c/"), "/a/b/c");
        assert!(is_system_file("/etc//shadow"));
    }
}
