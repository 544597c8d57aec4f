# -*- coding: utf-8 -*-
# Root's work on the host's files: every path reached from / one folder at a
# time, never through a link or into a FIFO another account could have made;
# what the host's records say is the system's never taken over.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import errno
import grp
import hashlib
import os
import pwd
import stat
import subprocess


# Paths as root reaches them. The application's folders, its accounts'
# homes and the instance's folders are written by other accounts, which
# could plant a link or a FIFO there between two runs: every path the module
# reads, creates, chowns, writes or removes is reached from `/` one folder
# at a time, each opened without following a link, and the work is done on
# the folder's descriptor. A link is followed only where only root could
# have made it (root's link in a folder only root can write: `/var/run`,
# `/lib`); any other link refuses the path, naming it.
O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


# Links followed on one path at the most, as the kernel's own limit.
MAX_HOPS = 40


class Refused(OSError):
    """A path root will not use as it stands: a link another account could
    have made, or not a regular file where one is read."""

    def __init__(self, path, why, fix="remove it"):
        super().__init__("%s %s: refusing to use it as root; %s" % (path, why, fix))


class NotRegular(Refused):
    def __init__(self, path):
        super().__init__(path, "is not a regular file (a link, a FIFO, a device or a socket)")


def unlink(path):
    """Removes the file (or link) at `path`, if there is one."""
    try:
        fd, name = open_parent(path)
    except FileNotFoundError:
        return
    try:
        os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        pass
    finally:
        os.close(fd)


# What the host's own records say is the system's: a path its package
# manager installed (dpkg's file lists, rpm's database), or a system
# account's home. Read once a call, when something is to be created,
# taken over or removed.
DPKG_INFO = "/var/lib/dpkg/info"


RPM_DB = "/var/lib/rpm"


LOGIN_DEFS = "/etc/login.defs"


_records = {}


def packaged_paths():
    """Every path dpkg's file lists name (empty without dpkg)."""
    if "dpkg" not in _records:
        paths = set()
        try:
            names = [n for n in os.listdir(DPKG_INFO) if n.endswith(".list")]
        except OSError:
            names = []
        for name in names:
            try:
                with open(os.path.join(DPKG_INFO, name), encoding="utf-8", errors="replace") as f:
                    paths.update(line.rstrip("\n") for line in f)
            except OSError:
                continue
        _records["dpkg"] = paths
    return _records["dpkg"]


def rpm_owns(path):
    """Whether rpm's database names `path` (False without rpm)."""
    if not os.path.isdir(RPM_DB):
        return False
    try:
        done = subprocess.run(["rpm", "-qf", "--", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    except OSError:
        return False
    return done.returncode == 0


def system_homes():
    """Each system account's home (uid up to SYS_UID_MAX, 999 by default;
    not under /home), with the account's name."""
    if "homes" not in _records:
        top = 999
        try:
            with open(LOGIN_DEFS, encoding="utf-8", errors="replace") as f:
                for line in f:
                    words = line.split()
                    if len(words) == 2 and words[0] == "SYS_UID_MAX" and words[1].isdigit():
                        top = int(words[1])
        except OSError:
            pass
        # Homes under /home are people's, or the description's own accounts.
        _records["homes"] = {
            os.path.normpath(pw.pw_dir): pw.pw_name
            for pw in pwd.getpwall()
            if pw.pw_uid <= top and pw.pw_dir and not pw.pw_dir.startswith("/home/")
        }
    return _records["homes"]


def refuse_system(path):
    """Refused, naming why, when the host's records say `path` is the
    system's."""
    p = os.path.normpath(path)
    if p in packaged_paths() or rpm_owns(p):
        raise Refused(path, "is installed by the host's package manager", "take it out of the description")
    account = system_homes().get(p)
    if account is not None:
        raise Refused(path, "is the home of the system account %s" % account, "take it out of the description")


def root_trusts(folder, link):
    """Whether a link in a folder is root's own: the link and the folder
    are root's and no other account can write in the folder."""
    return folder.st_uid == 0 and not folder.st_mode & 0o022 and link.st_uid == 0


def open_parent(path, create=False):
    """The descriptor of the folder holding `path` and its last name,
    reached as the comment above says; missing folders are created (root's,
    0755) when `create`. Raises Refused, or FileNotFoundError."""
    parts = [n for n in path.split("/") if n not in ("", ".")]
    if not path.startswith("/") or not parts or ".." in parts:
        raise Refused(path, "is not an absolute path without ..")
    names, hops = parts[:-1], 0
    fd = os.open("/", O_DIR)
    try:
        while names:
            name = names.pop(0)
            try:
                child = os.open(name, O_DIR, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(name, 0o755, dir_fd=fd)
                child = os.open(name, O_DIR, dir_fd=fd)
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISLNK(st.st_mode):
                    raise Refused(path, "goes through %s, which is not a folder" % name)
                if not root_trusts(os.fstat(fd), st) or hops >= MAX_HOPS:
                    raise Refused(path, "goes through the link %s, which another account could have made" % name)
                hops += 1
                target = os.readlink(name, dir_fd=fd)
                names = [n for n in target.split("/") if n not in ("", ".")] + names
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", O_DIR)
                continue
            os.close(fd)
            fd = child
        return fd, parts[-1]
    except BaseException:
        os.close(fd)
        raise


def lstat_at(path):
    """`os.lstat` of `path`, reached as open_parent reaches it."""
    fd, name = open_parent(path)
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    finally:
        os.close(fd)


def open_regular(path):
    """`path` opened for reading, reached as open_parent reaches it: a link
    at its end is not followed and a FIFO does not block the open; anything
    but a regular file raises NotRegular (an absent one, FileNotFoundError)."""
    parent, name = open_parent(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise NotRegular(path)
        raise
    finally:
        os.close(parent)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegular(path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def remove_at(fd, name):
    """Removes `name` of the folder `fd`, a folder with what it holds,
    never following a link (a link is removed, not what it names)."""
    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=fd)
        return
    # An explicit stack: a tree as deep as its owner made it.
    stack = [(fd, name, None)]
    while stack:
        parent, name, child = stack[-1]
        if child is None:
            child = os.open(name, O_DIR, dir_fd=parent)
            stack[-1] = (parent, name, child)
            for entry in os.listdir(child):
                if stat.S_ISDIR(os.stat(entry, dir_fd=child, follow_symlinks=False).st_mode):
                    stack.append((child, entry, None))
                else:
                    os.unlink(entry, dir_fd=child)
            continue
        stack.pop()
        os.close(child)
        os.rmdir(name, dir_fd=parent)


def uid_of(owner):
    return int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid


def gid_of(group):
    return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid


def attrs_differ(st, owner, group, mode):
    """Whether a file's `os.stat` differs in owner, group or mode (an owner
    or group that does not exist yet differs)."""
    return attr_changes(st, owner, group, mode) != []


def differs(path, want, owner, group, mode):
    """Whether the file (or folder, `want` None) at `path` differs from what
    is described: its content, owner, group or mode. A symbolic link always
    differs: it is replaced (`path_change` says how)."""
    return path_change(path, want, owner, group, mode, folder=want is None) is not None


def atomic_write(path, data, owner=None, group=None, mode=None):
    """Writes `data` to `path` atomically: a new file beside it (reached as
    open_parent reaches it), with its owner, group and mode (when given)
    set on its descriptor before it takes its name."""
    fd, name = open_parent(path)
    try:
        for _try in range(100):
            tmp = ".hadeploy-%s" % base64.b32encode(os.urandom(10)).decode("ascii").lower()
            try:
                out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=fd)
                break
            except FileExistsError:
                continue
        else:
            raise Refused(path, "has no free temporary name beside it")
        try:
            with os.fdopen(out, "wb") as f:
                f.write(data)
                f.flush()
                if owner is not None:
                    os.fchown(f.fileno(), uid_of(owner), gid_of(group))
                    os.fchmod(f.fileno(), int(mode, 8))
                os.fsync(f.fileno())
            os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=fd)
            except OSError:
                pass
            raise
    finally:
        os.close(fd)


def ensure_dir(path, owner, group, mode):
    """A folder at `path` with its owner, group and mode, its missing
    parents created (root's, 0755), a link in its place replaced; set on
    the folder's descriptor, never through a link. Refused for a folder
    the host's records say is the system's."""
    refuse_system(path)
    fd, name = open_parent(path, create=True)
    try:
        try:
            folder = os.open(name, O_DIR, dir_fd=fd)
        except FileNotFoundError:
            os.mkdir(name, 0o700, dir_fd=fd)
            folder = os.open(name, O_DIR, dir_fd=fd)
        except OSError as e:
            if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            if not stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                raise Refused(path, "is a file where a folder goes")
            os.unlink(name, dir_fd=fd)
            os.mkdir(name, 0o700, dir_fd=fd)
            folder = os.open(name, O_DIR, dir_fd=fd)
        try:
            os.fchown(folder, uid_of(owner), gid_of(group))
            os.fchmod(folder, int(mode, 8))
        finally:
            os.close(folder)
    finally:
        os.close(fd)


def sha1_of(path):
    """The SHA-1 (hex) of a regular file's content, or None when it is
    absent, not a regular file, or unreadable."""
    try:
        if not stat.S_ISREG(lstat_at(path).st_mode):
            return None
        digest = hashlib.sha1()
        with open_regular(path) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return None


def place(path, check):
    """Makes `path` safe for a module that writes it by its name (Ansible's
    copy, get_url): reached as open_parent reaches it (Refused otherwise),
    not the system's, and a link there removed so that the file is written
    in its place, not where the link points. Whether a link was removed
    (or would be)."""
    refuse_system(path)
    fd, name = open_parent(path)
    try:
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if not stat.S_ISLNK(st.st_mode):
            return False
        if not check:
            os.unlink(name, dir_fd=fd)
        return True
    finally:
        os.close(fd)


def exists(path):
    """Whether there is anything at `path` (a link included), reached as
    open_parent reaches it; a path it refuses counts as there."""
    try:
        lstat_at(path)
    except FileNotFoundError:
        return False
    except Refused:
        return True
    return True


def attr_changes(st, owner, group, mode):
    """Which of a file's owner, group and mode differ (one that does not
    exist yet differs)."""
    out = []
    for what, have, want in (("owner", st.st_uid, owner), ("group", st.st_gid, group)):
        try:
            if have != (uid_of(want) if what == "owner" else gid_of(want)):
                out.append(what)
        except KeyError:
            out.append(what)
    if stat.S_IMODE(st.st_mode) != int(mode, 8):
        out.append("mode")
    return out


def path_change(path, data, owner, group, mode, folder=False):
    """How a deploy would change the file or folder at `path`: None, or
    (action, what), action `create` or `change` and what the parts that
    differ: `content` (of a file whose bytes `data` are given, or their
    SHA-1 as `("sha1", hex)`), `owner`, `group`, `mode`, or `type` (a link
    or another kind of file in its place, replaced)."""
    try:
        st = lstat_at(path)
    except FileNotFoundError:
        return "create", []
    except Refused:
        # The deploy refuses it, naming it.
        return "change", ["type"]
    if not (stat.S_ISDIR if folder else stat.S_ISREG)(st.st_mode):
        return "change", ["type"]
    what = attr_changes(st, owner, group, mode)
    if isinstance(data, tuple):
        if sha1_of(path) != data[1]:
            what.insert(0, "content")
    elif data is not None and (st.st_size != len(data) or file_bytes(path) != data):
        what.insert(0, "content")
    return ("change", what) if what else None


def file_bytes(path):
    """A regular file's bytes, or None where there is none."""
    try:
        with open_regular(path) as f:
            return f.read()
    except (NotRegular, FileNotFoundError):
        return None
