# -*- coding: utf-8 -*-
# supervisord through its XML-RPC interface on the instance's unix socket
# (as supervisorctl talks to it), and systemd through systemctl.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import socket
import time
import http.client
import xmlrpc.client


class UnixConnection(http.client.HTTPConnection):
    """An HTTP connection to a unix socket."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class UnixTransport(xmlrpc.client.Transport):
    """XML-RPC over a unix socket, as supervisorctl talks to supervisord."""

    def __init__(self, path, timeout):
        super().__init__()
        self.path = path
        self.timeout = timeout

    def make_connection(self, host):
        return UnixConnection(self.path, self.timeout)


# What a call to supervisord may raise when it does not answer as it should.
RPC_ERRORS = (OSError, xmlrpc.client.Error, http.client.HTTPException)


def rpc(path, timeout):
    """The XML-RPC interface of the supervisord listening on `path`."""
    return xmlrpc.client.ServerProxy(
        "http://localhost/RPC2", transport=UnixTransport(path, timeout), allow_none=True
    )


def is_down(error):
    """Whether supervisord did not answer because it does not run: no
    socket, or nothing listening on it. Anything else (access denied, a
    password asked, no answer in time, a broken answer) is a fault."""
    return isinstance(error, (FileNotFoundError, ConnectionRefusedError))


def unreachable(path, error):
    """Why supervisord on `path` did not answer, as supervisorctl says it."""
    if isinstance(error, xmlrpc.client.ProtocolError) and error.errcode == 401:
        return (
            "unix://%s asks for a user name and password, which hadeploy does not give:"
            " remove `username` and `password` from its [unix_http_server]" % path
        )
    if isinstance(error, socket.timeout):
        return "unix://%s gave no answer in time" % path
    if isinstance(error, FileNotFoundError):
        return "unix://%s no such file" % path
    if isinstance(error, PermissionError):
        return "unix://%s access denied" % path
    if isinstance(error, ConnectionRefusedError):
        return "unix://%s refused connection" % path
    if isinstance(error, xmlrpc.client.Fault):
        return "supervisord: %s" % error.faultString
    return "unix://%s: %s" % (path, error)


def process_name(info):
    """The name supervisorctl shows for a process."""
    if info["group"] == info["name"]:
        return info["name"]
    return "%s:%s" % (info["group"], info["name"])


def program_status(info):
    """A process as the status reports it."""
    running = info["statename"] == "RUNNING"
    seconds = max(0, int(info["now"]) - int(info["start"])) if running else None
    return {
        "state": info["statename"],
        "pid": info["pid"] if running else None,
        # supervisor writes the uptime as Python writes a timedelta.
        "uptime": str(datetime.timedelta(seconds=seconds)) if running else None,
        "uptime_seconds": seconds,
        "description": info["description"],
    }


def unit_props(module, unit):
    """A systemd unit's properties as `systemctl show` gives them, or None
    when systemd does not know it."""
    rc, out, _err = module.run_command(
        ["systemctl", "show", unit, "--property=LoadState,ActiveState,SubState,UnitFileState"]
    )
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    if rc != 0 or props.get("LoadState") in (None, "not-found"):
        return None
    return props


def service_status(module, unit):
    """The systemd unit of an instance, for the status."""
    props = unit_props(module, unit)
    if props is None:
        return {"unit": unit, "state": "absent", "enabled": False}
    return {
        "unit": unit,
        "state": "running" if props.get("SubState") == "running" else "stopped",
        "enabled": props.get("UnitFileState") == "enabled",
    }


# Process states of supervisor.
ACTIVE = ("RUNNING", "STARTING", "BACKOFF")


UNSETTLED = ("STARTING", "BACKOFF")


FAILED = ("FATAL", "BACKOFF", "EXITED")


# Faults supervisor answers when a process is already where it is asked to go.
ALREADY_STARTED = 60


NOT_RUNNING = 70


SPAWN_ERROR = 50


# Seconds to wait for processes to stop, at most.
STOP_WAIT = 300


# Bytes of a log's end shown for a process that did not start (as
# `supervisorctl tail`).
TAIL = 1600


def states(server):
    """Each process's state, by the name supervisorctl gives it."""
    return {process_name(i): i["statename"] for i in server.supervisor.getAllProcessInfo()}


def wait_stopped(server, names=(), groups=()):
    """Waits until no process named in `names`, or of one of `groups`, runs
    (supervisor kills one that outlives its `stopwaitsecs`)."""
    deadline = time.monotonic() + STOP_WAIT
    while True:
        running = [
            i
            for i in server.supervisor.getAllProcessInfo()
            if i["statename"] in ACTIVE + ("STOPPING",) and (process_name(i) in names or i["group"] in groups)
        ]
        if not running or time.monotonic() >= deadline:
            return
        time.sleep(0.2)


def update(server):
    """Applies changed program files as `supervisorctl update` does; the
    groups added, changed and removed. The groups to stop are stopped all
    at once, not one after the other."""
    added, changed, removed = server.supervisor.reloadConfig()[0]
    going = removed + changed
    for group in going:
        server.supervisor.stopProcessGroup(group, False)
    wait_stopped(server, groups=set(going))
    for group in going:
        server.supervisor.removeProcessGroup(group)
    for group in changed + added:
        server.supervisor.addProcessGroup(group)
    return sorted(added + changed + removed)


def stop(server, names):
    """Stops the processes `names`, all at once, and waits until they are."""
    for name in names:
        try:
            server.supervisor.stopProcess(name, False)
        except xmlrpc.client.Fault as e:
            if e.faultCode != NOT_RUNNING:
                raise
    if names:
        wait_stopped(server, names=set(names))


def start(server, name):
    try:
        server.supervisor.startProcess(name, False)
    except xmlrpc.client.Fault as e:
        # A process that cannot be spawned is reported with those that did
        # not start, its logs' ends with it.
        if e.faultCode not in (ALREADY_STARTED, SPAWN_ERROR):
            raise


def tail(server, name, stream, length=TAIL):
    """The last `length` bytes of a process's log (`stream`: stdout or
    stderr), and whether the log is longer; "" when it has none."""
    read = server.supervisor.tailProcessStdoutLog if stream == "stdout" else server.supervisor.tailProcessStderrLog
    try:
        text, _offset, overflow = read(name, 0, length)
    except xmlrpc.client.Fault:
        return "", False
    return text, overflow


def unit_state(module, unit):
    """(active, enabled, loaded) of a systemd unit."""
    props = unit_props(module, unit)
    if props is None:
        return False, False, False
    return props.get("ActiveState") in ("active", "activating", "reloading"), props.get("UnitFileState") == "enabled", True


def run_checked(module, argv, ok=(0,)):
    """Runs `argv` (no shell), failing the call on an exit code not in `ok`:
    its exit code."""
    rc, out, err = module.run_command(argv)
    if rc not in ok:
        module.fail_json(msg="%s: %s" % (" ".join(argv), (err or out).strip() or "exit code %d" % rc))
    return rc


def systemctl(module, *args):
    run_checked(module, ["systemctl"] + list(args))


# How long one call that does work (stopping a group, reloading the
# configuration) may take once supervisord has answered.
WORK_TIMEOUT = 300


class NoAnswer(Exception):
    """supervisord did not answer: why, and whether it simply does not run."""

    def __init__(self, why, down):
        super().__init__(why)
        self.down = down


def answering(sup, timeout):
    """The instance's XML-RPC interface once it answered within `timeout`;
    NoAnswer otherwise."""
    try:
        rpc(sup["socket"], timeout).supervisor.getState()
    except RPC_ERRORS as e:
        raise NoAnswer(unreachable(sup["socket"], e), is_down(e))
    return rpc(sup["socket"], max(timeout, WORK_TIMEOUT))


def wait_answer(sup, seconds):
    """The instance's XML-RPC interface once it answers, or None."""
    deadline = time.monotonic() + seconds
    server = rpc(sup["socket"], 10)
    while True:
        try:
            server.supervisor.getState()
            return rpc(sup["socket"], WORK_TIMEOUT)
        except RPC_ERRORS:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.2)


# The most bytes read from one log: enough for a few thousand lines.
MAX_LOG_READ = 1 << 20


def last_lines(server, name, stream, lines):
    """The last `lines` lines of a process's log."""
    text, overflow = tail(server, name, stream, min(MAX_LOG_READ, max(lines, 1) * 512))
    got = text.splitlines()
    if overflow and got:
        # The read started inside a line.
        got = got[1:]
    return got[-lines:] if lines > 0 else []
