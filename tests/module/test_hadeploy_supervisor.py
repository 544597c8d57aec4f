"""The role's module against a real supervisord: started by the test on a
unix socket in a temporary folder (supervisor comes with the test venv,
tests/setup-venv.sh). Run with `python -m pytest tests/module`."""

import copy
import grp
import importlib
import hashlib
import json
import os
import re
import socket
import pwd
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import yaml

COLLECTION = Path(__file__).resolve().parents[2] / "roles-templates/collections/ansible_collections/hadeploy/supervisor"
LIBRARY = COLLECTION / "plugins/modules"
sys.path.insert(0, str(LIBRARY))
# The folder that holds ansible_collections/: the module imports the
# collection's module_utils, as Ansible gives them to it.
sys.path.append(str(COLLECTION.parents[2]))

import hadeploy_supervisor as mod  # noqa: E402
# What it shares in the collection's module_utils.
UTILS = "ansible_collections.hadeploy.supervisor.plugins.module_utils."
host_files = importlib.import_module(UTILS + "host_files")
journal = importlib.import_module(UTILS + "journal")
health = importlib.import_module(UTILS + "health")

PLUGINS = COLLECTION / "plugins/action"

# Ansible of the same venv as this Python.
ANSIBLE = str(Path(sys.executable).parent / "ansible")

# A supervisord of the tests' own, in the folder {dir}.
HEADER = """\
[unix_http_server]
file={dir}/supervisor.sock
chmod=0700
[supervisord]
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
childlogdir={dir}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""

CONF = HEADER + """\
[program:sleeper]
command=/bin/sleep 1000
startsecs=0
[program:idle]
command=/bin/sleep 1000
autostart=false
[program:crasher]
command=/bin/false
startsecs=1
startretries=0
[group:web]
programs=worker
[program:worker]
command=/bin/sleep 1000
startsecs=0
"""


def stop_supervisord(proc):
    """Stops a test's supervisord: it stops its programs first, which may
    take their stopwaitsecs on a busy machine; one still there after 30 s is
    killed, so that a slow stop never fails a test."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)

@pytest.fixture(scope="module")
def supervisord(tmp_path_factory):
    d = tmp_path_factory.mktemp("sv")
    conf = d / "supervisord.conf"
    conf.write_text(CONF.format(dir=d))
    proc = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(conf)])
    sock = d / "supervisor.sock"
    server = mod.rpc(str(sock), 5)
    for _ in range(100):
        try:
            infos = server.supervisor.getAllProcessInfo()
            states = {i["name"]: i["statename"] for i in infos}
            if states.get("crasher") == "FATAL" and states.get("sleeper") == "RUNNING":
                break
        except OSError:
            pass
        time.sleep(0.1)
    yield sock
    stop_supervisord(proc)


class NoSystemd:
    def run_command(self, argv):
        raise AssertionError("systemctl is read only for managed instances")


def test_status_reads_every_process_through_xml_rpc(supervisord):
    sup = {"name": "t", "managed": False, "unit": None, "socket": str(supervisord)}
    report = mod.supervisor_status(NoSystemd(), sup, 5)
    assert report["running"] is True and report["error"] is None and report["service"] is None
    progs = report["programs"]
    assert set(progs) == {"sleeper", "idle", "crasher", "web:worker"}
    assert progs["sleeper"]["state"] == "RUNNING"
    assert isinstance(progs["sleeper"]["pid"], int) and progs["sleeper"]["pid"] > 0
    assert progs["sleeper"]["uptime"].count(":") == 2
    assert progs["sleeper"]["uptime_seconds"] >= 0
    assert progs["idle"] == {
        "state": "STOPPED",
        "pid": None,
        "uptime": None,
        "uptime_seconds": None,
        "description": "Not started",
    }
    assert progs["crasher"]["state"] == "FATAL"


def test_a_supervisord_that_does_not_answer_is_reported(tmp_path):
    missing = tmp_path / "none.sock"
    report = mod.supervisor_status(NoSystemd(), {"name": "t", "managed": False, "unit": None, "socket": str(missing)}, 5)
    assert report["running"] is False
    assert report["error"] == "unix://%s no such file" % missing
    assert report["programs"] == {}


class FakeSystemd:
    def __init__(self, rc, out):
        self.rc, self.out = rc, out

    def run_command(self, argv):
        assert argv[:3] == ["systemctl", "show", "supervisord_t.service"]
        return self.rc, self.out, ""


def test_process_names_are_as_the_shared_cases_say():
    """The name supervisorctl shows, read from supervisord's answer, is the
    one hadeploy writes in the roles' inputs: the same cases as cargo's
    (tests/fixtures/process-names.json)."""
    supervisord = importlib.import_module(UTILS + "supervisord")
    cases = json.loads((Path(__file__).parents[1] / "fixtures" / "process-names.json").read_text())["cases"]
    wrong = [c for c in cases if supervisord.process_name({"group": c[0], "name": c[1]}) != c[2]]
    assert len(cases) >= 6 and wrong == []


@pytest.mark.parametrize(
    "rc,out,want",
    [
        (0, "LoadState=loaded\nSubState=running\nUnitFileState=enabled\n", ("running", True)),
        (0, "LoadState=loaded\nSubState=dead\nUnitFileState=disabled\n", ("stopped", False)),
        (0, "LoadState=not-found\nSubState=dead\nUnitFileState=\n", ("absent", False)),
        (1, "", ("absent", False)),
    ],
)
def test_the_unit_is_read_from_systemctl_show(rc, out, want):
    got = mod.service_status(FakeSystemd(rc, out), "supervisord_t.service")
    assert (got["state"], got["enabled"]) == want


def ansible_module(args):
    """Runs the module as Ansible does (ad hoc, on this machine): its output."""
    return subprocess.run(
        [ANSIBLE, "localhost", "-c", "local", "-m", "hadeploy_supervisor", "-a", json.dumps(args), "-o"],
        env={**os.environ, "ANSIBLE_LIBRARY": str(LIBRARY), "ANSIBLE_LOCALHOST_WARNING": "False",
             "ANSIBLE_COLLECTIONS_PATH": str(COLLECTION.parents[2])},
        capture_output=True,
        text=True,
        check=False,
    )


def test_ansible_runs_the_module_and_gets_typed_data(supervisord, tmp_path):
    """The module as Ansible runs it: arguments checked against its spec."""
    out = ansible_module({"action": "status", "supervisors": [{"name": "t", "managed": False, "socket": str(supervisord)}]})
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.split(" => ", 1)[1])
    assert result["changed"] is False
    assert result["supervisors"]["t"]["programs"]["sleeper"]["state"] == "RUNNING"
    out = ansible_module({"action": "status", "supervisors": [{"name": "t", "managed": False, "socket": "/x", "sockett": 1}]})
    assert out.returncode != 0 and "sockett" in out.stdout, out.stdout


def spec_of(options):
    """DOCUMENTATION's options in the argument spec's form."""
    spec = {}
    for name, o in options.items():
        s = {"type": o.get("type", "str")}
        for k in ("required", "choices", "default", "elements"):
            if k in o and not (k == "required" and o[k] is False):
                s[k] = o[k]
        if "suboptions" in o:
            s["options"] = spec_of(o["suboptions"])
        spec[name] = s
    return spec


def documented(spec):
    """The argument spec without what DOCUMENTATION does not say (no_log)."""
    return {
        name: {k: (documented(v) if k == "options" else v) for k, v in o.items() if k != "no_log"}
        for name, o in spec.items()
    }


def test_the_documentation_says_what_the_argument_spec_checks():
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert doc["module"] == "hadeploy_supervisor"
    assert spec_of(doc["options"]) == documented(mod.ARGUMENT_SPEC)
    # File contents may hold secrets: never in Ansible's output.
    assert mod.ARGUMENT_SPEC["files"]["options"]["content"]["no_log"] is True
    for section in (mod.EXAMPLES, mod.RETURN):
        yaml.safe_load(section)


# ---------------------------------------------------------------------------
# converge: against a supervisord of its own, whose programs live in include
# files the tests change, as a deploy changes them.

CONVERGE_CONF = HEADER + """\
[include]
files={dir}/*.ini
"""

PROGRAM = "[program:{name}]\ncommand={command}\nstartsecs={startsecs}\nstartretries=0\nautostart={autostart}\n"


class Done(Exception):
    """What the module ended with: exit_json's or fail_json's arguments."""

    def __init__(self, failed, result):
        super().__init__(result.get("msg", ""))
        self.failed, self.result = failed, result


class FakeModule:
    def __init__(self, params, check_mode=False, diff=False):
        defaults = {k: v.get("default") for k, v in mod.ARGUMENT_SPEC.items()}
        self.params = {**defaults, "settle": 10, **params}
        self.check_mode = check_mode
        self._diff = diff

    def exit_json(self, **result):
        raise Done(False, result)

    def selinux_enabled(self):
        return False

    def fail_json(self, **result):
        raise Done(True, result)


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "supervisord.conf").write_text(CONVERGE_CONF.format(dir=tmp_path))

    def program(name, command="/bin/sleep 1000", startsecs=0, autostart="true"):
        (tmp_path / ("%s.ini" % name)).write_text(
            PROGRAM.format(name=name, command=command, startsecs=startsecs, autostart=autostart))

    program("web")
    program("idle", autostart="false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(tmp_path / "supervisord.conf")])
    sock = str(tmp_path / "supervisor.sock")
    server = mod.rpc(sock, 5)
    for _ in range(100):
        try:
            if mod.states(server).get("web") == "RUNNING":
                break
        except OSError:
            pass
        time.sleep(0.1)
    yield sock, server, program
    stop_supervisord(proc)


def run(params, check_mode=False):
    with pytest.raises(Done) as e:
        mod.converge(FakeModule({"action": "converge", **params}, check_mode))
    return e.value


def sup(sock, *procs):
    return {"name": "s", "socket": sock, "managed": False, "unit": None, "state": "current", "enabled": True,
            "unit_path": None, "include_dir": os.path.dirname(sock),
            "processes": [{"status": n, "group": n, "program": n, "state": st} for n, st in procs]}


def pid(server, name):
    return server.supervisor.getProcessInfo(name)["pid"]


def test_converge_starts_and_stops_processes_to_their_state(instance):
    sock, server, _ = instance
    done = run({"supervisors": [sup(sock, ("web", "stopped"), ("idle", "started"))],
                "start_states": ["started"], "stop_states": ["stopped"]})
    assert not done.failed and done.result["changed"]
    assert done.result["changes"]["s"] == {"updated": [], "restarted": [], "started": ["idle"], "stopped": ["web"]}
    assert mod.states(server) == {"web": "STOPPED", "idle": "RUNNING"}
    again = run({"supervisors": [sup(sock, ("web", "stopped"), ("idle", "started"))],
                 "start_states": ["started"], "stop_states": ["stopped"]})
    assert again.result["changed"] is False


def test_converge_applies_changed_groups_once_and_restarts_what_is_notified(instance):
    sock, server, program = instance
    program("extra")
    program("idle", command="/bin/sleep 999", autostart="true")
    web_pid = pid(server, "web")
    done = run({"supervisors": [sup(sock, ("web", "started"), ("idle", "started"), ("extra", "started"))],
                "update": True, "start_states": ["started"],
                "notified": [{"supervisor": "s", "process": "web", "group": "web"},
                             {"supervisor": "s", "process": "idle", "group": "idle"}]})
    assert not done.failed, done.result
    changes = done.result["changes"]["s"]
    assert changes["updated"] == ["extra", "idle"]
    # idle's group was just updated: not restarted a second time.
    assert changes["restarted"] == ["web"]
    assert pid(server, "web") != web_pid
    assert mod.states(server) == {"web": "RUNNING", "idle": "RUNNING", "extra": "RUNNING"}
    assert server.supervisor.getProcessInfo("idle")["description"].startswith("pid ")


def test_converge_fails_with_the_end_of_the_logs_of_what_did_not_start(instance):
    sock, server, program = instance
    program("crasher", command="/bin/sh -c 'echo boom >&2; echo out; exit 1'", startsecs=1, autostart="false")
    done = run({"supervisors": [sup(sock, ("web", "started"), ("crasher", "started"))],
                "update": True, "start_states": ["started"], "settle": 15})
    assert done.failed
    msg = done.result["msg"]
    assert msg.startswith("Programs did not start:")
    assert "==== s crasher FATAL (stderr tail) ====\nboom" in msg, msg
    assert "out" in msg and "web" not in msg


def test_converge_in_check_mode_says_what_it_would_do_and_does_nothing(instance):
    sock, server, program = instance
    program("extra")
    web_pid = pid(server, "web")
    done = run({"supervisors": [sup(sock, ("web", "stopped"), ("idle", "started"))],
                "update": True, "start_states": ["started"], "stop_states": ["stopped"],
                "changed_groups": [{"supervisor": "s", "process_group": "extra"}],
                "notified": [{"supervisor": "s", "process": "web", "group": "web"}]}, check_mode=True)
    assert done.result["changed"]
    assert done.result["changes"]["s"] == {"updated": ["extra"], "restarted": ["web"], "started": ["idle"],
                                           "stopped": ["web"]}
    assert mod.states(server) == {"web": "RUNNING", "idle": "STOPPED"}
    assert pid(server, "web") == web_pid


def test_converge_skips_an_instance_that_does_not_answer(tmp_path):
    done = run({"supervisors": [sup(str(tmp_path / "none.sock"), ("web", "started"))], "start_states": ["started"]})
    assert done.result == {"changed": False, "changes": {}, "services": {}}


ALL_STATES = ["started", "stopped", "current"]


def test_converge_restarts_the_programs_named_only_whatever_their_state(instance):
    """`programs` and `restart`: the processes named are stopped where they
    run and started, even one described `stopped`; every other process and
    supervisord itself keep their pids."""
    sock, server, program = instance
    program("other")
    server.supervisor.reloadConfig()
    server.supervisor.addProcessGroup("other")
    web, other, daemon = pid(server, "web"), pid(server, "other"), server.supervisor.getPID()
    instance_ = sup(sock, ("web", "started"), ("idle", "stopped"), ("other", "started"))
    done = run({"supervisors": [instance_], "programs": ["web", "idle"], "restart": True, "start_states": ALL_STATES})
    assert not done.failed, done.result
    assert done.result["changes"]["s"] == {"updated": [], "restarted": ["web"], "started": ["idle"], "stopped": []}
    assert pid(server, "web") != web and mod.states(server)["idle"] == "RUNNING"
    assert pid(server, "other") == other and server.supervisor.getPID() == daemon
    # Stopped by name: those only.
    done = run({"supervisors": [instance_], "programs": ["idle"], "stop_states": ALL_STATES})
    assert done.result["changes"]["s"]["stopped"] == ["idle"]
    assert mod.states(server) == {"web": "RUNNING", "idle": "STOPPED", "other": "RUNNING"}


def test_programs_name_a_program_or_its_process_group():
    """A program is matched by its name (its processes may be `grp:b_00`) or
    its process group; a health check goes with its processes."""
    s = {"name": "s", "processes": [
        {"status": "grp:a", "group": "grp", "program": "a", "state": "started"},
        {"status": "grp:b_00", "group": "grp", "program": "b", "state": "started"},
        {"status": "c", "group": "c", "program": "c", "state": "started"},
    ], "healthchecks": [{"program": "b", "processes": ["grp:b_00"]}, {"program": "c", "processes": ["c"]}]}
    assert [x["status"] for x in mod.only(s, ["b"])["processes"]] == ["grp:b_00"]
    assert [c["program"] for c in mod.only(s, ["b"])["healthchecks"]] == ["b"]
    assert [x["status"] for x in mod.only(s, ["grp"])["processes"]] == ["grp:a", "grp:b_00"]
    assert mod.only(s, ["nothing"])["processes"] == []


def test_programs_named_need_their_instance_to_answer(tmp_path):
    """Where a whole converge skips an instance that is down, a run on
    programs named fails on it; one without those programs is left alone."""
    down = sup(str(tmp_path / "none.sock"), ("web", "started"))
    done = run({"supervisors": [down], "programs": ["web"], "restart": True, "start_states": ALL_STATES})
    assert done.failed and "supervisor s:" in done.result["msg"], done.result
    done = run({"supervisors": [down], "programs": ["api"], "restart": True, "start_states": ALL_STATES})
    assert not done.failed and done.result["changes"] == {}
    done = run({"supervisors": [down], "programs": ["web"], "service_state": "started"})
    assert done.failed and "leaves the instances' services as they are" in done.result["msg"]


def test_status_of_programs_named_reports_those_only(instance):
    sock, server, _ = instance
    report = mod.supervisor_status(FakeModule({}), sup(sock, ("web", "started"), ("idle", "stopped")), 5, ["idle"])
    assert set(report["programs"]) == {"idle"}


# ---------------------------------------------------------------------------
# logs


def test_logs_gives_the_last_lines_of_each_process(instance):
    sock, server, program = instance
    program("talker", command="/bin/sh -c 'for i in $(seq 1 30); do echo line $i; echo err $i >&2; done; exec sleep 1000'")
    mod.update(server)
    for _ in range(50):
        if mod.last_lines(server, "talker", "stdout", 1) == ["line 30"]:
            break
        time.sleep(0.1)

    def read(**params):
        with pytest.raises(Done) as e:
            mod.logs(FakeModule({"action": "logs", "supervisors": [sup(sock)], "program": None, "lines": 20,
                                 "stream": "stdout", **params}))
        return e.value.result

    got = read(lines=3)
    assert got["changed"] is False
    assert got["logs"]["s"]["running"] is True
    assert got["logs"]["s"]["programs"]["talker"]["lines"] == ["line 28", "line 29", "line 30"]
    assert set(got["logs"]["s"]["programs"]) == {"web", "idle", "talker"}
    only = read(program="talker", stream="stderr", lines=2)
    assert only["logs"]["s"]["programs"] == {"talker": {"lines": ["err 29", "err 30"]}}


def test_logs_report_an_instance_that_does_not_answer(tmp_path):
    with pytest.raises(Done) as e:
        mod.logs(FakeModule({"action": "logs", "supervisors": [sup(str(tmp_path / "none.sock"))], "program": None,
                             "lines": 5, "stream": "stdout"}))
    assert e.value.result["logs"]["s"]["running"] is False
    assert "no such file" in e.value.result["logs"]["s"]["error"]


# ---------------------------------------------------------------------------
# deploy and the journal: files written by the module, restarts recorded
# before the change.

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


def program_file(folder, name, command="/bin/sleep 1000", secret=False):
    return {"dest": os.path.join(folder, "%s_prg.ini" % name),
            "content": PROGRAM.format(name=name, command=command, startsecs=0, autostart="true"),
            "owner": ME, "group": MY_GROUP, "mode": "0640", "supervisor": "s", "restart": False,
            "process_group": name, "secret": secret}


def deploy(params, check_mode=False, diff=False):
    defaults = {"action": "deploy", "dirs": [], "log_dirs": [], "files": [], "notified": []}
    with pytest.raises(Done) as e:
        mod.deploy(FakeModule({**defaults, **params}, check_mode, diff))
    return e.value


def test_deploy_writes_the_files_that_differ_and_updates_their_groups_only(instance):
    sock, server, _ = instance
    folder = os.path.dirname(sock)
    web_pid = pid(server, "web")
    extra = program_file(folder, "extra")
    s = sup(sock, ("web", "started"), ("idle", "stopped"), ("extra", "started"))
    logs = os.path.join(folder, "logs")
    done = deploy({"supervisors": [s], "files": [extra],
                   "log_dirs": [{"path": logs, "owner": ME, "group": MY_GROUP}]})
    assert not done.failed, done.result
    assert done.result["files"] == [extra["dest"]] and done.result["folders"] == [logs]
    assert done.result["changes"]["s"]["updated"] == ["extra"]
    assert Path(extra["dest"]).read_text() == extra["content"]
    assert oct(os.stat(extra["dest"]).st_mode & 0o777) == "0o640"
    assert mod.states(server) == {"web": "RUNNING", "idle": "STOPPED", "extra": "RUNNING"}
    assert pid(server, "web") == web_pid
    # Nothing differs now: nothing is written, nothing moves.
    again = deploy({"supervisors": [s], "files": [extra]})
    assert again.result["changed"] is False, again.result
    # A mode only: the file is set right, its group is not updated.
    os.chmod(extra["dest"], 0o600)
    extra_pid = pid(server, "extra")
    mode = deploy({"supervisors": [s], "files": [extra]})
    assert mode.result["files"] == [extra["dest"]] and "s" not in mode.result["changes"]
    assert pid(server, "extra") == extra_pid


def test_deploy_removes_program_files_no_longer_described_and_their_groups(instance):
    sock, server, _ = instance
    folder = os.path.dirname(sock)
    old = program_file(folder, "old")
    s = sup(sock, ("web", "started"), ("idle", "stopped"))
    deploy({"supervisors": [s], "files": [old]})
    assert "old" in mod.states(server)
    done = deploy({"supervisors": [s], "files": []})
    assert done.result["removed"] == [old["dest"]]
    assert not os.path.exists(old["dest"])
    assert "old" not in mod.states(server)


def test_deploy_in_check_mode_says_what_it_would_write_and_changes_nothing(instance):
    sock, server, _ = instance
    folder = os.path.dirname(sock)
    extra = program_file(folder, "extra")
    hidden = dict(program_file(folder, "hidden"), secret=True)
    Path(hidden["dest"]).write_text("[program:hidden]\ncommand=/bin/sleep 1\nautostart=false\n")
    mod.update(server)
    s = sup(sock, ("web", "started"), ("idle", "stopped"))
    notified = [{"supervisor": "s", "process": "web", "group": "web"}]
    done = deploy({"supervisors": [s], "files": [extra, hidden], "notified": notified}, check_mode=True, diff=True)
    assert done.result["changed"]
    assert done.result["files"] == [extra["dest"], hidden["dest"]]
    assert done.result["changes"]["s"]["updated"] == ["extra", "hidden"]
    # The secret file's content before stays out of the diff.
    assert done.result["before"] == {extra["dest"]: "", hidden["dest"]: ""}
    assert not os.path.exists(extra["dest"]) and not os.path.exists(os.path.join(folder, journal.JOURNAL))
    assert "extra" not in mod.states(server)


def test_a_restart_recorded_by_a_run_that_stopped_is_made_by_the_next_deploy(instance, tmp_path_factory):
    sock, server, _ = instance
    web_pid = pid(server, "web")
    s = sup(sock, ("web", "started"), ("idle", "stopped"))
    # A run reads that a file web's change notifies is about to change, and
    # records its restart; it writes the file, and stops before restarting.
    script = tmp_path_factory.mktemp("files") / "web.sh"
    script.write_text("old\n")
    described = {"dest": str(script), "checksum": hashlib.sha1(b"new\n").hexdigest(), "owner": ME,
                 "group": MY_GROUP, "mode": "0644", "notify": [{"supervisor": "s", "process": "web", "group": "web"}]}
    seen = inspect({"supervisors": [s], "described_files": [described]})
    assert seen["files"] == [str(script)] and seen["recorded"] == ["s"]
    script.write_text("new\n")
    assert pid(server, "web") == web_pid
    # The next deploy finds every file in place, and restarts web.
    assert inspect({"supervisors": [s], "described_files": [described]})["recorded"] == []
    done = deploy({"supervisors": [s]})
    assert done.result["changes"]["s"]["restarted"] == ["web"]
    assert pid(server, "web") != web_pid
    assert not os.path.exists(os.path.join(os.path.dirname(sock), journal.JOURNAL))
    assert deploy({"supervisors": [s]}).result["changed"] is False


def test_converge_with_the_journal_restarts_what_it_holds_and_clears_it(instance):
    sock, server, _ = instance
    web_pid = pid(server, "web")
    s = sup(sock, ("web", "started"))
    assert mod.write_journal(s, {"restart": True, "notified": [{"process": "web", "group": "web"}]})
    done = run({"supervisors": [s], "journal": True})
    assert done.result["changes"]["s"]["restarted"] == ["web"]
    assert pid(server, "web") != web_pid
    # The instance's own restart is left for a deploy.
    assert mod.read_journal(s) == {"restart": True, "notified": []}


def test_a_journal_that_does_not_read_is_ignored(tmp_path):
    s = {"include_dir": str(tmp_path)}
    (tmp_path / journal.JOURNAL).write_text("{not json")
    assert mod.read_journal(s) == {"restart": False, "notified": []}
    (tmp_path / journal.JOURNAL).write_text('{"restart": 1, "notified": [{"process": "x"}, 3]}')
    assert mod.read_journal(s) == {"restart": False, "notified": []}
    # No folder yet (a first deploy): nothing recorded, nothing to restart.
    assert mod.write_journal({"include_dir": str(tmp_path / "none")}, {"restart": True, "notified": []}) is False


def test_a_journal_planted_as_a_fifo_or_a_link_fails_at_once_naming_it(tmp_path):
    """The instance's account owns the folder: root neither blocks on a FIFO
    nor reads through a link there."""
    s = {"include_dir": str(tmp_path)}
    planted = tmp_path / journal.JOURNAL
    os.mkfifo(planted)
    start = time.monotonic()
    with pytest.raises(mod.NotRegular, match=str(planted)):
        mod.read_journal(s)
    assert time.monotonic() - start < 5
    planted.unlink()
    secret = tmp_path / "root-only"
    secret.write_text('{"restart": true, "notified": []}')
    planted.symlink_to(secret)
    with pytest.raises(mod.NotRegular, match="remove it"):
        mod.add_to_journal(s, restart=True)


def test_root_reads_no_file_through_a_link_or_a_fifo(tmp_path):
    """For a diff, a checksum or a comparison: a link or a FIFO planted
    where a described file goes is never opened."""
    secret = tmp_path / "shadow"
    secret.write_bytes(b"root:$6$hash:::\n")
    link = tmp_path / "link"
    link.symlink_to(secret)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    start = time.monotonic()
    for planted in (link, fifo):
        assert mod.before_text(str(planted)) == ""
        assert mod.sha1_of(str(planted)) is None
        assert mod.differs(str(planted), b"root:$6$hash:::\n", "root", "root", "0644") is True
    assert time.monotonic() - start < 5
    with pytest.raises(mod.NotRegular):
        mod.open_regular(str(fifo))


@pytest.fixture
def locked(tmp_path):
    """A supervisord whose socket asks for a user name and password."""
    conf = HEADER.replace("chmod=0700\n", "chmod=0700\nusername=admin\npassword=secret\n")
    (tmp_path / "supervisord.conf").write_text(conf.format(dir=tmp_path) + PROGRAM.format(
        name="web", command="/bin/sleep 1000", startsecs=0, autostart="true"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(tmp_path / "supervisord.conf")])
    sock = tmp_path / "supervisor.sock"
    for _ in range(100):
        if sock.exists():
            break
        time.sleep(0.1)
    time.sleep(0.5)
    yield str(sock)
    stop_supervisord(proc)


@pytest.fixture
def hung(tmp_path):
    """A socket that takes connections and never answers, as a hung
    supervisord does."""
    path = str(tmp_path / "hung.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    yield path
    server.close()


def test_a_supervisord_asking_for_a_password_fails_the_deploy_and_keeps_the_journal(locked):
    s = sup(locked, ("web", "started"))
    assert mod.write_journal(s, {"restart": False, "notified": [{"process": "web", "group": "web"}]})
    done = deploy({"supervisors": [s]})
    assert done.failed
    assert "supervisor s:" in done.result["msg"] and "user name and password" in done.result["msg"]
    assert mod.read_journal(s)["notified"] == [{"process": "web", "group": "web"}]
    for service_state in ("started", None):
        done = run({"supervisors": [s], "service_state": service_state, "journal": True})
        assert done.failed and "user name and password" in done.result["msg"]
    assert mod.read_journal(s)["notified"]
    report = mod.supervisor_status(None, dict(s, managed=False), 5)
    assert report["running"] is False and report["down"] is False


def test_a_hung_supervisord_fails_within_the_call_s_timeout(hung):
    s = sup(hung, ("web", "started"))
    start = time.monotonic()
    done = run({"supervisors": [s], "timeout": 2})
    assert done.failed and "gave no answer in time" in done.result["msg"], done.result
    done = deploy({"supervisors": [s], "timeout": 2})
    assert done.failed and "gave no answer in time" in done.result["msg"], done.result
    report = mod.supervisor_status(None, dict(s, managed=False), 2)
    assert report["down"] is False and "no answer" in report["error"]
    assert time.monotonic() - start < 15


def test_an_instance_that_does_not_run_is_skipped_where_it_need_not_run(tmp_path):
    """No socket: stopping or converging files finds nothing to do; starting
    it, it must answer."""
    s = sup(str(tmp_path / "none.sock"), ("web", "started"))
    assert not run({"supervisors": [s], "service_state": "stopped"}).failed
    assert not run({"supervisors": [s], "journal": True}).failed
    done = run({"supervisors": [s], "service_state": "started"})
    assert done.failed and "no such file" in done.result["msg"]
    report = mod.supervisor_status(None, dict(s, managed=False), 2)
    assert report["down"] is True


@pytest.fixture
def planted(tmp_path):
    """An application folder owned by another account (nobody), and what a
    link planted there could name: a folder and a file of root's."""
    if os.geteuid() != 0:
        pytest.skip("needs root: chown to another account")
    nobody = pwd.getpwnam("nobody")
    app = tmp_path / "app"
    app.mkdir()
    os.chown(app, nobody.pw_uid, nobody.pw_gid)
    target = tmp_path / "etc-systemd-system"
    target.mkdir(mode=0o755)
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$hash:::\n")
    os.chmod(secret, 0o600)

    def state():
        return [(p.name, os.lstat(p).st_uid, os.lstat(p).st_mode, sorted(os.listdir(p)) if p.is_dir() else p.read_bytes())
                for p in (target, secret)]

    return types.SimpleNamespace(app=app, target=target, secret=secret, nobody=nobody, state=state)


def test_root_follows_no_link_another_account_planted_in_a_path(planted):
    """At each place of a path: what root creates, chowns, writes or
    removes is refused, or done on the path itself; the link's target is
    as it was."""
    before = planted.state()
    link = planted.app / "logs"
    link.symlink_to(planted.target)
    # A link in the middle: refused, naming the path.
    with pytest.raises(mod.Refused, match="goes through the link logs"):
        mod.ensure_dir(str(link / "sub"), "nobody", "nogroup", "0755")
    with pytest.raises(mod.Refused, match="logs"):
        mod.atomic_write(str(link / "x.ini"), b"x", "nobody", "nogroup", "0644")
    with pytest.raises(mod.Refused):
        mod.open_regular(str(link / "x.ini"))
    assert mod.differs(str(link / "x.ini"), b"x", "root", "root", "0644") is True
    assert mod.before_text(str(link / "x.ini")) == ""
    # A link at the end: replaced by the folder or the file, not followed.
    mod.ensure_dir(str(link), "nobody", "nogroup", "0750")
    assert not link.is_symlink() and link.is_dir() and link.stat().st_uid == planted.nobody.pw_uid
    shadow = planted.app / "conf.ini"
    shadow.symlink_to(planted.secret)
    mod.atomic_write(str(shadow), b"[x]\n", "nobody", "nogroup", "0644")
    assert not shadow.is_symlink() and shadow.read_bytes() == b"[x]\n"
    # Removing: a link in the middle refuses, a link at the end goes alone.
    (planted.app / "gone").symlink_to(planted.target)
    with pytest.raises(mod.Refused):
        mod.unlink(str(planted.app / "gone" / "anything"))
    fd, name = mod.open_parent(str(planted.app / "gone"))
    mod.remove_at(fd, name)
    os.close(fd)
    assert not os.path.lexists(planted.app / "gone")
    assert planted.state() == before


def test_the_place_of_a_file_ansible_copies_or_downloads_is_made_safe_first(planted):
    """Files over 1 MiB (copy) and downloads (get_url) are written by
    modules that follow links: the module refuses a path through a planted
    link, and removes a link where the file goes."""
    before = planted.state()
    (planted.app / "data").symlink_to(planted.target)
    with pytest.raises(mod.Refused, match="goes through the link data"):
        mod.place(str(planted.app / "data" / "big.tgz"), check=False)
    dest = planted.app / "big.tgz"
    dest.symlink_to(planted.secret)
    assert mod.place(str(dest), check=True) is True and dest.is_symlink()
    with pytest.raises(Done) as done:
        mod.write(FakeModule({"action": "write", "described_files": [
            {"dest": str(dest), "owner": "root", "group": "root", "mode": "0644", "content": None,
             "base64": False, "notify": []}]}))
    assert done.value.result["changed"] is True
    assert not os.path.lexists(dest)
    assert planted.state() == before


def test_keys_go_into_the_account_s_own_ssh_folder_never_through_a_link(planted, monkeypatch):
    """A `.ssh` or `authorized_keys` planted as links to root's: replaced,
    root's untouched; the keys land in the account's own folder."""
    home = planted.app
    real = pwd.getpwnam

    def getpwnam(name):
        pw = real(name)
        return types.SimpleNamespace(pw_uid=pw.pw_uid, pw_gid=pw.pw_gid, pw_dir=str(home) if name == "nobody" else pw.pw_dir)

    monkeypatch.setattr(mod.pwd, "getpwnam", getpwnam)
    before = planted.state()
    (home / ".ssh").symlink_to(planted.target)
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHo/XF8V6xKjc4VjqDYIa9KeoNHojcKKa13ZQrr1Ilcf app"
    assert mod.keys_differ("nobody", [key])
    assert mod.authorize_keys("nobody", [key], check=False)
    ssh = home / ".ssh"
    assert not ssh.is_symlink() and oct(ssh.stat().st_mode & 0o777) == "0o700"
    assert (ssh / "authorized_keys").read_text() == key + "\n"
    assert not mod.keys_differ("nobody", [key])
    (ssh / "authorized_keys").unlink()
    (ssh / "authorized_keys").symlink_to(planted.secret)
    assert mod.keys_differ("nobody", [key])
    mod.authorize_keys("nobody", [key], check=False)
    assert (ssh / "authorized_keys").read_text() == key + "\n"
    assert planted.state() == before


def test_what_the_host_s_records_say_is_the_system_s_is_never_taken_over(tmp_path, monkeypatch):
    """A path dpkg installed, or a system account's home: neither created,
    owned, written nor removed."""
    info = tmp_path / "info"
    info.mkdir()
    shipped = tmp_path / "usr-share-thing"
    shipped.mkdir()
    (info / "thing.list").write_text("/.\n%s\n%s/file\n" % (shipped, shipped))
    home = tmp_path / "var-lib-postgresql"
    monkeypatch.setattr(host_files, "DPKG_INFO", str(info))
    monkeypatch.setattr(host_files, "_records", {})
    monkeypatch.setattr(
        mod.pwd, "getpwall",
        lambda: [types.SimpleNamespace(pw_uid=105, pw_dir=str(home), pw_name="postgres"),
                 types.SimpleNamespace(pw_uid=998, pw_dir="/home/app", pw_name="app")])
    with pytest.raises(mod.Refused, match="installed by the host's package manager"):
        mod.ensure_dir(str(shipped), "root", "root", "0755")
    with pytest.raises(mod.Refused, match="package manager"):
        mod.write_file(FakeModule({}), str(shipped / "file"), b"x", "root", "root", "0644")
    with pytest.raises(mod.Refused, match="home of the system account postgres"):
        mod.ensure_dir(str(home), "root", "root", "0755")
    assert not home.exists() and not (shipped / "file").exists()
    with pytest.raises(mod.Refused, match="take it out of the description"):
        mod.delete(FakeModule({"action": "delete", "paths": [str(shipped)]}))
    assert shipped.is_dir()
    # The description's own folders are made as before.
    mod.ensure_dir(str(tmp_path / "opt-app"), "root", "root", "0755")


def test_links_root_made_in_root_s_folders_are_followed(tmp_path):
    """`/var/run` and `/lib` are links: root's own, in folders only root
    writes, and followed."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    os.chmod(tmp_path, 0o755)
    real = tmp_path / "run"
    real.mkdir(mode=0o755)
    (tmp_path / "var-run").symlink_to("run")
    mod.ensure_dir(str(tmp_path / "var-run" / "tsupv"), "root", "root", "0755")
    assert (real / "tsupv").is_dir()


@pytest.fixture
def plugin():
    """The action plugin, imported as a Python module of its own; the
    collection's module_utils it imports as Ansible does."""
    sys.path.insert(0, str(PLUGINS))
    # The folder that holds ansible_collections/.
    collections = str(COLLECTION.parents[2])
    if collections not in sys.path:
        sys.path.append(collections)
    try:
        import importlib
        plugin = importlib.import_module("hadeploy_supervisor")
        if plugin is mod:
            del sys.modules["hadeploy_supervisor"]
            plugin = importlib.import_module("hadeploy_supervisor")
    finally:
        sys.path.remove(str(PLUGINS))
        sys.modules["hadeploy_supervisor"] = mod
    assert hasattr(plugin, "ActionModule")
    return plugin


def test_select_keeps_what_goes_to_the_host(plugin):
    """Items (and an instance's processes and health checks) whose scope names the host or
    one of its groups, or all; a log folder once."""
    names = {"en1", "edges"}
    items = [
        {"path": "/a", "scope": "all"},
        {"path": "/b", "scope": "edges"},
        {"path": "/c", "scope": "en9:en1"},
        {"path": "/d", "scope": "workers"},
        {"path": "/e", "scope": "en10"},
        {"path": "/a", "scope": "edges"},
    ]
    got = plugin.select({"log_dirs": items, "folders": items}, names)
    assert [i["path"] for i in got["folders"]] == ["/a", "/b", "/c", "/a"]
    assert [i["path"] for i in got["log_dirs"]] == ["/a", "/b", "/c"]
    instance = {"name": "sv", "scope": "all", "processes": [
        {"status": "p1", "scope": "en1"}, {"status": "p2", "scope": "en2"}],
        "healthchecks": [{"program": "p1", "scope": "edges"}, {"program": "p2", "scope": "en2"}]}
    got = plugin.select({"instances": [instance]}, names)
    assert [p["status"] for p in got["instances"][0]["processes"]] == ["p1"]
    assert [p["program"] for p in got["instances"][0]["healthchecks"]] == ["p1"]
    assert len(instance["processes"]) == 2, "the input is left as it is"


def test_a_host_no_scope_names_is_told_so(plugin):
    """An estate's group `edge` where the description says `edges`: the
    host gets nothing, and the warning says which scopes there are."""
    lists = {"folders": [{"path": "/a", "scope": "edges"}], "users": [{"login": "u", "scope": "en1:en2"}]}
    names = {"en5", "edge"}
    kept = plugin.select(lists, names)
    warning = plugin.nothing_here(lists, kept, names)
    assert warning == (
        "this host gets nothing of the roles' inputs: no scope names it nor its groups (edge, en5);"
        " the scopes are: edges, en1, en2"
    )
    assert plugin.nothing_here(lists, plugin.select(lists, {"en1"}), {"en1"}) is None
    assert plugin.nothing_here({"folders": []}, {"folders": []}, names) is None


def test_rendered_paths_are_refused_as_the_shared_cases_say(plugin):
    """The rule for paths Ansible renders is hadeploy's for the others: the
    cases cargo runs against the model's rule (tests/fixtures/host-paths.json)."""
    cases = json.loads((Path(__file__).parents[1] / "fixtures" / "host-paths.json").read_text())["cases"]
    wrong = [(p, refused) for p, refused in cases if plugin.host_path_refused(p) != refused]
    assert len(cases) >= 30 and wrong == []
    # select refuses them, naming them, for folders and files alike.
    kept = {"folders": [{"path": "/etc/pam.d", "rendered": True}, {"path": "/etc/pam.d"}],
            "files": [{"dest": "/opt/app/x", "rendered": True}, {"dest": "opt/x", "rendered": True}]}
    assert plugin.refused_paths(kept) == ["/etc/pam.d", "opt/x"]


def test_inputs_given_by_name_are_the_host_s_items_only_templated(plugin):
    """`inputs`: the plugin reads the lists from the host's variables, keeps
    the items whose scope names the host, and templates those only: an item
    of another host's that could not be templated here is never touched."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    try:
        from ansible.template import trust_as_template
    except ImportError:  # ansible-core before 2.19 templates every string
        def trust_as_template(value):
            return value

    variables = {
        "base": "/opt/app",
        "folders": [
            {"path": trust_as_template("{{ base }}/mine"), "scope": "edges"},
            {"path": trust_as_template("{{ undefined_here }}/theirs"), "scope": "workers"},
            {"path": "/opt/all"},
        ],
        "more": [{"path": "/opt/more", "scope": trust_as_template("{{ 'en1' }}")}],
        "estate": trust_as_template("{{ folders[2:] }}"),
        "not_a_list": "/opt/app",
    }
    action = plugin.ActionModule.__new__(plugin.ActionModule)
    action._task_vars = variables
    action._templar = Templar(loader=DataLoader(), variables=variables)
    names = {"en1", "edges"}
    got = action._host_items({"folders": ["folders", "more"], "estate": "estate"}, names)
    assert got == {
        "folders": [{"path": "/opt/app/mine", "scope": "edges"}, {"path": "/opt/all"}, {"path": "/opt/more", "scope": "en1"}],
        "estate": [{"path": "/opt/all"}],
    }
    with pytest.raises(plugin.AnsibleActionFail, match="hadeploy_base_folders is not defined"):
        action._host_items({"folders": "hadeploy_base_folders"}, names)
    with pytest.raises(plugin.AnsibleActionFail, match="not_a_list: a list of items is expected"):
        action._host_items({"folders": "not_a_list"}, names)


def test_the_areas_of_a_run_are_those_its_tags_select(plugin):
    """`hadeploy --scope` and `--noScope` are tags: the areas the plan and
    the inspection work on are those they select, as Ansible selects the
    deploy's tasks (ansible-core 2.19 gives the tags as tuples)."""
    cases = [
        ({}, ["users", "files", "supervisor"]),
        ({"ansible_run_tags": ("all",), "ansible_skip_tags": ()}, ["users", "files", "supervisor"]),
        ({"ansible_run_tags": ("files",)}, ["files"]),
        ({"ansible_run_tags": ["all"], "ansible_skip_tags": ["supervisor", "users"]}, ["files"]),
        ({"ansible_run_tags": ("users", "supervisor"), "ansible_skip_tags": ("users",)}, ["supervisor"]),
        ({"ansible_run_tags": ("always",)}, []),
    ]
    for task_vars, areas in cases:
        assert plugin.run_areas(task_vars) == areas, task_vars


def test_inspect_of_items_given_by_name_refuses_rendered_paths_and_says_what_the_includes_need(plugin):
    """The base role's inspection reads its items by name (no task selects
    them first): the plugin refuses a rendered path as `select` does,
    compares files only where the run deploys them, and tells the role
    whether there are downloads and instances; the lists whole go to the
    warning of a host that gets nothing."""
    action = plugin.ActionModule.__new__(plugin.ActionModule)
    files = [{"dest": "/opt/app/a", "kind": "copy"}, {"dest": "/opt/app/b", "kind": "url"}]
    args = {"action": "inspect", "folders": [{"path": "/opt/app"}], "described_files": list(files),
            "supervisors": [], "areas": ["users", "files"]}
    result = {}
    action._inspected(args, result)
    assert result == {"downloads": True, "supervisors": False, "areas": ["users", "files"]}
    assert args["described_files"] == files
    # `--tags users`: no file compared, nor its restarts recorded.
    users_only = dict(args, areas=["users"])
    action._inspected(users_only, {})
    assert users_only["described_files"] == []
    for rendered in ({"folders": [{"path": "/etc", "rendered": True}]},
                     {"described_files": [{"dest": "/opt/../etc/passwd", "rendered": True}]}):
        with pytest.raises(plugin.AnsibleActionFail, match="folder or file of the system"):
            action._inspected(dict(args, **rendered), {})

    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    variables = {"hadeploy_base_folders": [{"path": "/opt/edge", "scope": "edges"}]}
    action._task_vars = variables
    action._templar = Templar(loader=DataLoader(), variables=variables)
    every = {}
    kept = action._host_items({"folders": "hadeploy_base_folders"}, {"en1", "edge"}, every)
    assert kept == {"folders": []} and every == {"folders": variables["hadeploy_base_folders"]}
    assert "the scopes are: edges" in plugin.nothing_here(every, kept, {"en1", "edge"})


def test_inputs_are_checked_against_the_entry_points_argument_specs(plugin):
    """`validate` refuses, naming role, entry point and input, what Ansible's
    own check on the role's entry refuses (a missing required key, a wrong
    choice, a string for a list), and only the options of the entry points
    it is given."""
    good = {"name": "sv", "socket": "/run/sv.sock", "state": "started"}
    def invalid_inputs(entry_points, values):
        return plugin.spec_errors(plugin.entry_point_options(entry_points), values)

    assert invalid_inputs({"hadeploy_supervisor": "start"}, {"hadeploy_supervisor_instances": [good]}) == []
    wrong = invalid_inputs(
        {"hadeploy_supervisor": "start", "hadeploy_base": "remove"},
        {
            "hadeploy_supervisor_instances": [{"name": "sv", "state": "running"}],
            "hadeploy_base_folders": "/opt/app",
            # Not an input of the supervisor role's start: left alone.
            "hadeploy_supervisor_dirs": "not a list",
        },
    )
    base = [w for w in wrong if w.startswith("hadeploy_base, entry point remove: ")]
    assert any("hadeploy_base_folders" in w for w in base), wrong
    sup = [w for w in wrong if w.startswith("hadeploy_supervisor, entry point start: ")]
    assert len(base) + len(sup) == len(wrong) and len(sup) == 2, wrong
    assert any("socket" in w and "hadeploy_supervisor_instances" in w for w in wrong), wrong
    assert any("running" in w and "started, stopped, current" in w for w in wrong), wrong
    with pytest.raises(plugin.AnsibleActionFail, match="has no entry point deploi"):
        invalid_inputs({"hadeploy_base": "deploi"}, {})


def test_a_misspelt_input_is_named_with_what_was_meant(plugin):
    """A variable named like a role's input that its argument specs do not
    list fails the first task, whichever role it belongs to; internal names
    (`__`) and other variables are left alone."""
    got = plugin.unknown_inputs({
        "hadeploy_supervisor_instaces": [],
        "hadeploy_base_users": [],
        "hadeploy_base__here": {},
        "hadeploy_files_dir": "/x",
        "inventory_hostname": "en1",
    })
    assert got == [
        "hadeploy_supervisor_instaces is not an input of the role hadeploy_supervisor;"
        " did you mean hadeploy_supervisor_instances?"
    ]


def test_templates_see_the_description_s_variables_the_host_lacks(plugin):
    """An estate's play has none of the description's variables under their
    own names: the templates the plugin renders get them from hadeploy_vars;
    a host's own variable of the name wins; the layout's names win over both."""
    task_vars = {"hadeploy_vars": {"web": {"port": 8080}, "app": "shop", "name": "x"}, "app": "estate's"}
    got = plugin.own_vars(task_vars, {"name": "appv"})
    assert got == {"web": {"port": 8080}, "name": "appv"}
    assert plugin.own_vars({}, {"program_name": "p"}) == {"program_name": "p"}
    with pytest.raises(Exception, match="hadeploy_vars: a map"):
        plugin.own_vars({"hadeploy_vars": ["web"]}, {})


def test_templates_get_the_host_s_variables_but_the_roles_inputs(plugin):
    """The template lookup deep-copies the variables it is given for every
    file: the roles' inputs (hundreds of items) stay out of them, in `vars`
    too; what a template reads (the host's own, facts, hostvars) stays."""
    me = types.SimpleNamespace(_task_vars={
        "hadeploy_base_files": [{"dest": "/x"}] * 500, "hadeploy_base__here": {}, "hadeploy_vars": {"a": 1},
        "inventory_hostname": "en1", "ansible_fqdn": "en1.example", "vars": {"hadeploy_base_files": []},
    })
    got = plugin.ActionModule._template_variables(me)
    assert set(got) == {"inventory_hostname", "ansible_fqdn", "vars"}
    assert got["vars"] is got
    assert plugin.ActionModule._template_variables(me) is got
    # What the lookup copies for each file: the top level, not each value.
    me._task_vars["facts"] = {"mounts": [{"mount": "/"}]}
    me._for_templates = None
    got = plugin.ActionModule._template_variables(me)
    copied = copy.deepcopy(got)
    assert copied == got and copied is not got and copied["facts"] is got["facts"]


def test_inputs_of_another_version_are_refused_naming_both(plugin):
    """Inputs written by another hadeploy than the collection's are refused,
    naming both versions; hand-written ones (no version) go."""
    problem = plugin.version_problem("0.1.0", "0.2.0")
    assert "hadeploy 0.1.0" in problem and "hadeploy 0.2.0" in problem
    assert plugin.version_problem("0.2.0", "0.2.0") is None
    assert plugin.version_problem(None, "0.2.0") is None



def test_the_collection_knows_its_version_installed_or_not(plugin, tmp_path):
    """Installed by ansible-galaxy, from MANIFEST.json; in hadeploy's
    project, from galaxy.yml; else none."""
    assert plugin.collection_version(str(tmp_path)) is None
    (tmp_path / "galaxy.yml").write_text('namespace: hadeploy\nversion: "0.3.1"\n')
    assert plugin.collection_version(str(tmp_path)) == "0.3.1"
    (tmp_path / "MANIFEST.json").write_text('{"collection_info": {"version": "0.4.0"}}')
    assert plugin.collection_version(str(tmp_path)) == "0.4.0"


def test_a_secret_file_s_content_stays_out_of_the_diff(plugin):
    """The action plugin's diffs: a secret file's content, before or after,
    is never in them."""
    files = [{"dest": "/a.ini", "content": "new\n", "secret": False},
             {"dest": "/s.conf", "content": "password={SHA}abc\n", "secret": True}]
    got = plugin.diffs({"/a.ini": "old\n", "/s.conf": "password={SHA}old\n"}, files)
    assert got[0] == {"before_header": "/a.ini", "after_header": "/a.ini", "before": "old\n", "after": "new\n"}
    assert "SHA" not in repr(got[1]) and got[1]["after"] == "(hidden: it holds a secret)\n"


def inspect(params, check_mode=False):
    defaults = {"action": "inspect", "supervisors": []}
    with pytest.raises(Done) as e:
        mod.inspect(FakeModule({**defaults, **params}, check_mode))
    assert e.value.result["changed"] is False
    return e.value.result


def test_inspect_names_only_what_differs(tmp_path):
    me = pwd.getpwuid(os.getuid())
    there = tmp_path / "there"
    there.mkdir(mode=0o750)
    os.chmod(there, 0o750)
    same = tmp_path / "same.txt"
    same.write_text("same\n")
    os.chmod(same, 0o640)
    other_mode = tmp_path / "mode.txt"
    other_mode.write_text("mode\n")
    os.chmod(other_mode, 0o600)

    def described(path, content, mode="0640"):
        return {"dest": str(path), "checksum": hashlib.sha1(content).hexdigest(), "owner": ME,
                "group": MY_GROUP, "mode": mode, "notify": []}

    got = inspect({
        "groups": [{"name": MY_GROUP}, {"name": "hadeploy-no-such-group"}],
        "users": [
            {"login": ME, "comment": me.pw_gecos, "group": MY_GROUP, "groups": None, "password": None},
            {"login": ME, "comment": me.pw_gecos + " (changed)", "group": None, "groups": None, "password": None},
            {"login": "hadeploy-no-such-user", "comment": None, "group": None, "groups": None, "password": None},
        ],
        "authorized_keys": [{"user": "hadeploy-no-such-user", "key": "ssh-ed25519 AAAA"}],
        "folders": [{"path": str(there), "owner": ME, "group": MY_GROUP, "mode": "0750"},
                    {"path": str(there), "owner": ME, "group": MY_GROUP, "mode": "0755"},
                    {"path": str(tmp_path / "new"), "owner": ME, "group": MY_GROUP, "mode": "0750"}],
        "described_files": [described(same, b"same\n"), described(same, b"other\n"),
                            described(other_mode, b"mode\n", "0644"), described(tmp_path / "new.txt", b"x")],
    })
    assert got["groups"] == ["hadeploy-no-such-group"]
    # The one whose comment differs, and the one that does not exist.
    assert got["users"] == [ME, "hadeploy-no-such-user"]
    assert got["authorized_keys"] == ["hadeploy-no-such-user"]
    assert got["folders"] == [str(there), str(tmp_path / "new")]
    assert got["files"] == [str(same), str(other_mode), str(tmp_path / "new.txt")]
    assert got["recorded"] == []


def test_inspect_records_only_content_changes_and_nothing_in_check_mode(instance, tmp_path_factory):
    sock, _, _ = instance
    s = sup(sock, ("web", "started"))
    folder = tmp_path_factory.mktemp("files")
    (folder / "a").write_text("a\n")
    os.chmod(folder / "a", 0o600)
    web = [{"supervisor": "s", "process": "web", "group": "web"}]
    mode_only = {"dest": str(folder / "a"), "checksum": hashlib.sha1(b"a\n").hexdigest(), "owner": ME,
                 "group": MY_GROUP, "mode": "0644", "notify": web}
    seen = inspect({"supervisors": [s], "described_files": [mode_only]})
    assert seen["files"] == [str(folder / "a")] and seen["recorded"] == []
    content = dict(mode_only, checksum=hashlib.sha1(b"b\n").hexdigest())
    assert inspect({"supervisors": [s], "described_files": [content]}, check_mode=True)["recorded"] == []
    assert mod.read_journal(s) == {"restart": False, "notified": []}
    assert inspect({"supervisors": [s], "described_files": [content]})["recorded"] == ["s"]
    assert mod.read_journal(s) == {"restart": False, "notified": [{"process": "web", "group": "web"}]}


def test_deploy_changes_nothing_where_the_supervisor_package_is_missing(instance, monkeypatch):
    sock, server, _ = instance
    extra = program_file(os.path.dirname(sock), "extra")
    monkeypatch.setattr(mod, "SUPERVISORD", os.path.join(os.path.dirname(sock), "no-supervisord"))
    done = deploy({"supervisors": [sup(sock)], "files": [extra], "package": True})
    assert done.result["missing"] is True and done.result["changed"] is False
    assert not os.path.exists(extra["dest"])
    # Where the role does not install the package, it is not looked for.
    assert deploy({"supervisors": [sup(sock)], "files": [extra]}).result["missing"] is False
    assert os.path.exists(extra["dest"])


def test_write_writes_what_differs_text_or_not_and_names_what_it_notifies(tmp_path):
    web = [{"supervisor": "s", "process": "web", "group": "web"}]
    text = {"dest": str(tmp_path / "a.sh"), "content": "echo a\n", "base64": False, "secret": False, "owner": ME,
            "group": MY_GROUP, "mode": "0750", "notify": web}
    raw = {"dest": str(tmp_path / "b.bin"), "content": "AP8=", "base64": True, "secret": False, "owner": ME,
           "group": MY_GROUP, "mode": "0640", "notify": []}

    def write(files, check_mode=False):
        with pytest.raises(Done) as e:
            mod.write(FakeModule({"action": "write", "described_files": files}, check_mode, diff=True))
        return e.value.result

    (tmp_path / "a.sh").write_text("echo old\n")
    dry = write([text, raw], check_mode=True)
    assert dry["written"] == [text["dest"], raw["dest"]] and (tmp_path / "a.sh").read_text() == "echo old\n"
    assert dry["before"] == {text["dest"]: "echo old\n"}
    done = write([text, raw])
    assert done["changed"] and done["notified"] == web
    assert (tmp_path / "a.sh").read_text() == "echo a\n" and (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert oct(os.stat(tmp_path / "a.sh").st_mode & 0o777) == "0o750"
    again = write([text, raw])
    assert again["changed"] is False and again["notified"] == []


def test_delete_removes_what_exists_and_refuses_paths_it_does_not_own(tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f").write_text("x")
    (tmp_path / "g").write_text("y")
    (tmp_path / "link").symlink_to(tmp_path / "d")

    def delete(paths, check_mode=False):
        with pytest.raises(Done) as e:
            mod.delete(FakeModule({"action": "delete", "paths": paths}, check_mode))
        return e.value

    paths = [str(tmp_path / "link"), str(tmp_path / "d"), str(tmp_path / "g"), str(tmp_path / "none")]
    dry = delete(paths, check_mode=True)
    assert dry.result["removed"] == paths[:3] and (tmp_path / "g").exists()
    done = delete(paths)
    assert done.result == {"changed": True, "removed": paths[:3], "removed_users": [], "removed_groups": []}
    assert sorted(os.listdir(tmp_path)) == []
    assert delete(paths).result["changed"] is False
    for bad in ("/", "relative", str(tmp_path / ".." / "x")):
        assert delete([bad]).failed


class Accounts(FakeModule):
    """A module whose commands are noted, not run: `pgrep` finds the
    account's processes `running` more times."""

    def __init__(self, params, check_mode=False, running=0, failing=()):
        super().__init__(params, check_mode)
        self.ran, self.running, self.failing = [], running, failing

    def run_command(self, argv):
        self.ran.append(argv)
        if argv[0] in self.failing:
            return 12, "", "%s: cannot do it" % argv[0]
        if argv[0] == "pgrep":
            self.running -= 1
            return (0 if self.running >= 0 else 1), "", ""
        return 0, "", ""


def test_delete_removes_the_accounts_that_exist_once_they_run_nothing_then_groups(tmp_path, monkeypatch):
    users, groups = {"app", "other"}, {"app", "ops"}

    def lookup(known):
        def get(name):
            if name not in known:
                raise KeyError(name)
            return name
        return get

    monkeypatch.setattr(mod.pwd, "getpwnam", lookup(users))
    monkeypatch.setattr(mod.grp, "getgrnam", lookup(groups))
    monkeypatch.setattr(mod.time, "sleep", lambda s: None)
    params = {"action": "delete", "paths": [], "logins": ["app", "gone"], "group_names": ["app", "none"]}

    def delete(m):
        with pytest.raises(Done) as e:
            mod.delete(m)
        return e.value

    dry = Accounts(params, check_mode=True)
    done = delete(dry)
    assert done.result["removed_users"] == ["app"] and done.result["removed_groups"] == ["app"]
    assert done.result["changed"] and dry.ran == []
    # Its processes killed, and waited for (pgrep finds them twice).
    m = Accounts(params, running=2)
    assert delete(m).result["changed"]
    assert m.ran == [
        ["pkill", "-KILL", "-u", "app"],
        ["pgrep", "-u", "app"], ["pgrep", "-u", "app"], ["pgrep", "-u", "app"],
        ["userdel", "-r", "app"],
        ["groupdel", "app"],
    ]
    # Nothing of them left: nothing to do.
    users.clear()
    groups.clear()
    none = Accounts(params)
    assert delete(none).result["changed"] is False and none.ran == []
    # A userdel that fails fails the call, naming it and saying why.
    users.add("app")
    failed = delete(Accounts(params, failing=("userdel",)))
    assert failed.failed and failed.result["msg"] == "userdel -r app: userdel: cannot do it"
    # Processes that do not end fail it too, rather than userdel.
    monkeypatch.setattr(mod, "KILL_WAIT", 0)
    stuck = Accounts(params, running=1000)
    hung = delete(stuck)
    assert hung.failed and "still run" in hung.result["msg"] and ["userdel", "-r", "app"] not in stuck.ran


class InstanceSystemd(FakeModule):
    """Systemd's units as a table (`enabled`, `active`), the commands run
    noted; supervisorctl's own calls go through XML-RPC."""

    def __init__(self, params, units, check_mode=False):
        super().__init__(params, check_mode)
        self.units, self.ran = units, []

    def run_command(self, argv):
        self.ran.append(argv[1:])
        if argv[1] == "show":
            active, enabled = self.units[argv[2]]
            return 0, "LoadState=loaded\nActiveState=%s\nUnitFileState=%s\n" % (
                "active" if active else "inactive", "enabled" if enabled else "disabled"), ""
        return 0, "", ""


def test_remove_unloads_removed_programs_then_stops_and_deletes_the_managed_instances(instance, tmp_path):
    sock, server, _ = instance
    folder = os.path.dirname(sock)
    extra, kept = program_file(folder, "extra"), program_file(folder, "kept")
    s = sup(sock, ("web", "started"), ("idle", "stopped"), ("extra", "started"), ("kept", "started"))
    deploy({"supervisors": [s], "files": [extra, kept]})
    assert {"extra", "kept"} <= set(mod.states(server))
    units = tmp_path / "units"
    units.mkdir()
    (units / "a.service").write_text("[Service]\n")
    (units / "b.service").write_text("[Service]\n")
    (units / "a.d").mkdir()
    managed = dict(sup(str(tmp_path / "a.sock")), name="a", managed=True, unit="a.service",
                   unit_path=str(units / "a.service"), no_remove=False)
    # Marked no_remove: its service and files stay.
    left = dict(managed, name="b", unit="b.service", unit_path=str(units / "b.service"), no_remove=True)
    params = {
        "action": "remove",
        "supervisors": [dict(s, no_remove=False), managed, left],
        "program_files": [dict(extra, no_remove=False), dict(kept, no_remove=True)],
        "instance_paths": [{"path": str(units / "a.service")}, {"path": str(units / "a.d")}],
    }
    table = {"a.service": (True, True), "b.service": (True, True)}

    def remove(m):
        with pytest.raises(Done) as e:
            mod.remove(m)
        return e.value

    dry = InstanceSystemd(params, table, check_mode=True)
    would = remove(dry)
    assert not would.failed, would.result
    assert would.result["removed"] == [extra["dest"], str(units / "a.service"), str(units / "a.d")]
    assert would.result["changes"]["s"]["updated"] == ["extra"]
    assert would.result["services"] == {"a": ["stopped", "disabled"]}
    assert all(c[0] == "show" for c in dry.ran)
    assert os.path.exists(extra["dest"]) and "extra" in mod.states(server) and (units / "a.d").exists()

    m = InstanceSystemd(params, table)
    done = remove(m)
    assert not done.failed, done.result
    assert done.result["changed"] and done.result["removed"] == would.result["removed"]
    assert "extra" not in mod.states(server) and mod.states(server)["kept"] == "RUNNING"
    assert os.path.exists(kept["dest"]) and not os.path.exists(extra["dest"])
    assert sorted(os.listdir(units)) == ["b.service"]
    assert [c for c in m.ran if c[0] != "show"] == [["disable", "--now", "a.service"], ["daemon-reload"]]

    # Gone already: nothing to do.
    table["a.service"] = (False, False)
    again = remove(InstanceSystemd(params, table))
    assert again.result["changed"] is False, again.result


class Systemd(FakeModule):
    """A module whose `systemctl` is a table of unit states, and which
    notes the commands it runs."""

    def __init__(self, params, active, check_mode=False):
        super().__init__(params, check_mode)
        self.active, self.ran = active, []

    def run_command(self, argv):
        self.ran.append(argv[1:])
        if argv[1] == "show":
            state = "active" if self.active[argv[2]] else "inactive"
            return 0, "LoadState=loaded\nActiveState=%s\nUnitFileState=enabled\n" % state, ""
        return 0, "", ""


def test_start_and_stop_set_the_managed_instances_services(tmp_path):
    def unit(name, state="started"):
        return dict(sup(str(tmp_path / ("%s.sock" % name))), name=name, managed=True, unit=name + ".service",
                    state=state)

    sups = [unit("up"), unit("down"), unit("off", state="stopped"), dict(unit("ext"), managed=False)]
    active = {"up.service": True, "down.service": False, "off.service": False, "ext.service": False}
    m = Systemd({"action": "converge", "supervisors": sups, "service_state": "started"}, active)
    # "down" is started, and does not answer here (no supervisord).
    assert mod.set_services(m, sups, "started") == {"down": ["started"]}
    assert ["start", "down.service"] in m.ran and ["start", "off.service"] not in m.ran
    stop = Systemd({}, active)
    assert mod.set_services(stop, sups, "stopped") == {"up": ["stopped"]}
    dry = Systemd({}, active, check_mode=True)
    assert mod.set_services(dry, sups, "stopped") == {"up": ["stopped"]}
    assert all(c[0] == "show" for c in dry.ran)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def checked(sock, check, *procs):
    """An instance with `procs` and the health check `check` of its program `server`."""
    return dict(sup(sock, *procs), healthchecks=[dict({"program": "server", "processes": ["server"]}, **check)])


def test_a_started_program_must_pass_its_http_health_check(instance):
    sock, server, program = instance
    port = free_port()
    program("server", command="%s -m http.server %d --bind 127.0.0.1" % (sys.executable, port), autostart="false")
    up = checked(sock, {"http": "http://127.0.0.1:%d/" % port, "timeout": 20}, ("server", "started"))
    done = run({"supervisors": [up], "update": True, "start_states": ["started"]})
    assert not done.failed, done.result
    assert done.result["changes"]["s"]["updated"] == ["server"]
    assert mod.read_journal(up)["notified"] == []
    # A 404 is no answer: the program runs, the check fails, with its logs'
    # ends, and its restart waits in the journal for the next deploy.
    server.supervisor.stopProcess("server")
    missing = checked(sock, {"http": "http://127.0.0.1:%d/nothing-here" % port, "timeout": 2}, ("server", "started"))
    done = run({"supervisors": [missing], "start_states": ["started"]})
    assert done.failed
    msg = done.result["msg"]
    assert msg.startswith("Programs did not pass their health check:"), msg
    assert "==== s server health check `http://127.0.0.1:%d/nothing-here` did not pass in 2 s (last: HTTP 404)" % port in msg
    assert "GET /nothing-here" in msg, "the program's log tail"
    assert mod.states(server)["server"] == "RUNNING"
    assert mod.read_journal(missing)["notified"] == [{"process": "server", "group": "server"}]
    # The next deploy restarts it and checks it again.
    old = pid(server, "server")
    done = deploy({"supervisors": [missing]})
    assert done.failed and pid(server, "server") != old
    assert done.result["changes"]["s"]["restarted"] == ["server"]


def test_a_health_check_runs_only_after_its_program_is_started(instance):
    sock, server, program = instance
    never = {"http": "http://127.0.0.1:%d/" % free_port(), "timeout": 1}
    # web already runs: nothing started, nothing checked.
    s = dict(sup(sock, ("web", "started")), healthchecks=[dict(never, program="web", processes=["web"])])
    done = run({"supervisors": [s], "start_states": ["started"]})
    assert not done.failed and done.result["changed"] is False
    # Check mode starts nothing, so checks nothing either.
    s = dict(sup(sock, ("idle", "started")), healthchecks=[dict(never, program="idle", processes=["idle"])])
    assert not run({"supervisors": [s], "start_states": ["started"]}, check_mode=True).failed


def test_a_command_health_check_runs_without_a_shell_until_it_exits_0(instance, tmp_path):
    sock, server, program = instance
    program("server", autostart="false")
    flag = tmp_path / "ready"
    check = checked(sock, {"command": ["/usr/bin/test", "-e", str(flag)], "timeout": 2}, ("server", "started"))
    done = run({"supervisors": [check], "update": True, "start_states": ["started"]})
    assert done.failed and "(last: exit 1)" in done.result["msg"], done.result["msg"]
    flag.write_text("")
    server.supervisor.stopProcess("server")
    assert not run({"supervisors": [check], "start_states": ["started"]}).failed
    # A shell's operators are arguments here, not a pipeline.
    ok, said = health.probe_command(["/bin/echo", "a", "|", "false"], None, 5)
    assert ok and said == "exit 0: a | false"
    assert health.probe_command(["/nonexistent/check"], None, 5)[0] is False
    assert health.probe_command(["/bin/sleep", "5"], None, 1) == (False, "no answer in 1 s")


@pytest.mark.skipif(os.geteuid() != 0, reason="switching user needs root")
def test_a_command_health_check_runs_as_the_instance_s_user():
    ok, said = health.probe_command(["/usr/bin/id", "-un"], "nobody", 5)
    assert ok and said == "exit 0: nobody"
    assert health.probe_command(["/usr/bin/id", "-un"], "no-such-user-here", 5) == (False, "no user no-such-user-here")


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl makes the test's certificate")
def test_an_https_health_check_does_not_check_the_certificate_nor_use_a_proxy(tmp_path, monkeypatch):
    import http.server
    import ssl
    import threading

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=elsewhere.example",
                    "-days", "1", "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # A proxy in the module's environment is not asked: the URL is the host's own.
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9/")
    monkeypatch.setenv("no_proxy", "")
    fresh = importlib.reload(health)
    port = server.server_address[1]
    try:
        assert fresh.probe_http("https://127.0.0.1:%d/health" % port, 5) == (True, "HTTP 200")
        assert fresh.probe_http("https://127.0.0.1:%d/busy" % port, 5) == (False, "HTTP 503")
    finally:
        server.shutdown()


def test_programs_an_instance_started_by_itself_are_checked_too(instance):
    """When this call started the instance's service, supervisord started
    its programs (autostart): they are checked, though none was started by
    the call and all already run."""
    sock, server, _ = instance
    never = {"http": "http://127.0.0.1:%d/" % free_port(), "timeout": 1}
    s = dict(sup(sock, ("web", "started")), healthchecks=[dict(never, program="web", processes=["web"])])
    params = {"update": False, "start_states": ["started"], "stop_states": [], "notified": [],
              "changed_groups": [], "settle": 5, "restarted": [], "restart": False}
    done, failed, unwell = mod.converge_one(FakeModule({}), s, params, server)
    assert (failed, unwell) == ([], []), "web was running: not checked"
    done, failed, unwell = mod.converge_one(FakeModule({}), s, dict(params, restarted=["s"]), server)
    assert failed == [], "web started: it is the check that fails"
    assert [(u["process"], u["group"]) for u in unwell] == [("web", "web")]
    assert "did not pass in 1 s" in unwell[0]["why"]


def test_the_roles_argument_specs_are_as_strict_as_the_module_s():
    """An input a role passes to the module whole (`option: "{{ input }}"`
    in its tasks, or by name in `inputs:`) requires, in the role's argument
    specs, every key the module requires: a hand-written input fails the
    role's first task, not the host's module."""
    pairs = []
    for role in sorted((COLLECTION / "roles").iterdir()):
        specs = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]
        inputs = {k: v for entry in specs.values() for k, v in entry.get("options", {}).items()}
        for tasks in sorted((role / "tasks").glob("*.yml")):
            for task in yaml.safe_load(tasks.read_text()) or []:
                args = task.get("hadeploy.supervisor.hadeploy_supervisor") or {}
                given = [(o, v) for o, v in args.items() if o != "inputs"]
                # For select, `inputs` names keys of `lists`, not options.
                by_name = args.get("inputs") if args.get("action") != "select" else None
                for option, names in (by_name or {}).items():
                    given.extend((option, "{{ %s }}" % n) for n in ([names] if isinstance(names, str) else names))
                for option, value in given:
                    found = re.fullmatch(r"\{\{ (hadeploy_\w+) \}\}", str(value))
                    if found and found.group(1) in inputs and option in mod.ARGUMENT_SPEC:
                        pairs.append((found.group(1), inputs[found.group(1)], option))
    assert {p[0] for p in pairs} >= {"hadeploy_supervisor_instances", "hadeploy_supervisor_dirs"}

    def looser(role_spec, module_spec, path):
        out = []
        for name, sub in (module_spec.get("options") or {}).items():
            mine = (role_spec.get("options") or {}).get(name)
            if sub.get("required") and not (mine and mine.get("required")):
                out.append("%s.%s" % (path, name))
            if mine and sub.get("options"):
                out.extend(looser(mine, sub, "%s.%s" % (path, name)))
        return out

    wrong = [w for name, spec, option in pairs for w in looser(spec, mod.ARGUMENT_SPEC[option], name)]
    assert wrong == []


def test_the_examples_show_every_action_each_as_the_module_takes_it():
    """EXAMPLES: one task per action of the module's choices, each valid
    against its argument spec (the names and types of its options)."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    tasks = yaml.safe_load(mod.EXAMPLES)
    shown = []
    for task in tasks:
        args = task["hadeploy.supervisor.hadeploy_supervisor"]
        shown.append(args["action"])
        if args["action"] in ("select", "validate"):
            # Done by the action plugin: its option never reaches the module.
            assert set(args) == {"action", {"select": "lists", "validate": "entry_points"}[args["action"]]}, task["name"]
            continue
        result = ArgumentSpecValidator(mod.ARGUMENT_SPEC).validate(args)
        assert not result.error_messages, (task["name"], result.error_messages)
    assert sorted(shown) == sorted(mod.ARGUMENT_SPEC["action"]["choices"])
    # No text names an action that is not one.
    named = set(re.findall(r"C\((\w+)\) (?:only|writes|reads)", mod.DOCUMENTATION))
    assert named <= set(mod.ARGUMENT_SPEC["action"]["choices"]), named


def test_the_module_runs_on_rhel_8_s_platform_python():
    """RHEL 8's platform-python is 3.6: vermin finds nothing the module uses
    that 3.6 lacks (a `from __future__ import annotations` once made it a
    SyntaxError there). The action plugin runs on the controller only."""
    vermin = Path(sys.executable).parent / "vermin"
    if not vermin.exists():
        assert not os.environ.get("CI"), "CI must provide vermin (tests/setup-venv.sh)"
        pytest.skip("no vermin (bash tests/setup-venv.sh)")
    # The module and what it imports of the collection's module_utils.
    files = [LIBRARY / "hadeploy_supervisor.py"] + sorted((COLLECTION / "plugins/module_utils").glob("*.py"))
    out = subprocess.run(
        [str(vermin), "-t=3.6-", "--violations", "--no-tips", "--eval-annotations"] + [str(f) for f in files],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
    )
    assert out.returncode == 0, out.stdout


# ---------------------------------------------------------------------------
# plan: what a deploy would change, in one call that changes nothing.


def plan(params):
    defaults = {"action": "plan", "dirs": [], "log_dirs": [], "files": [], "notified": []}
    with pytest.raises(Done) as e:
        mod.plan(FakeModule({**defaults, **params}, check_mode=False))
    assert not e.value.failed, e.value.result
    return e.value.result


def rows(result, *keys):
    return [tuple(r[k] for k in keys) for r in result["plan"]]


def test_plan_says_what_a_deploy_would_change_and_why_and_changes_nothing(instance, tmp_path_factory):
    sock, server, _ = instance
    folder = os.path.dirname(sock)
    me = pwd.getpwuid(os.getuid())
    files = tmp_path_factory.mktemp("files")
    (files / "web.sh").write_text("echo old\n")
    (files / "token").write_text("old-token\n")
    (files / "same.txt").write_text("same\n")
    os.chmod(files / "same.txt", 0o600)
    there = files / "there"
    there.mkdir()
    os.chmod(there, 0o700)
    kept = program_file(folder, "kept")
    deploy({"supervisors": [sup(sock, ("web", "started"), ("idle", "stopped"), ("kept", "started"))],
            "files": [kept]})
    old = program_file(folder, "old")
    Path(old["dest"]).write_text(old["content"])
    pids = {n: pid(server, n) for n in ("web", "kept")}
    web = [{"supervisor": "s", "process": "web", "group": "web"}]

    def described(path, content, **more):
        return dict({"dest": str(path), "content": content, "checksum": None, "base64": False, "owner": ME,
                     "group": MY_GROUP, "mode": "0644", "notify": [], "secret": False, "download": False}, **more)

    changed_kept = dict(kept, content=kept["content"].replace("sleep 1000", "sleep 2000"))
    extra = program_file(folder, "extra")
    before = {p: p.read_bytes() for p in files.iterdir() if p.is_file()}
    got = plan({
        "groups": [{"name": MY_GROUP}, {"name": "hadeploy-no-such-group"}],
        "users": [{"login": ME, "comment": me.pw_gecos + " (changed)", "group": None, "groups": None,
                   "password": "$6$not-the-hash"},
                  {"login": "hadeploy-no-such-user", "comment": None, "group": None, "groups": None, "password": None}],
        "folders": [{"path": str(there), "owner": ME, "group": MY_GROUP, "mode": "0750"},
                    {"path": str(files / "new"), "owner": ME, "group": MY_GROUP, "mode": "0750"}],
        "described_files": [
            described(files / "web.sh", "echo new\n", notify=web),
            described(files / "token", "new-token\n", secret=True),
            described(files / "same.txt", "same\n"),
            described(files / "new.txt", "x\n"),
            described(files / "download.tgz", None, download=True),
        ],
        "supervisors": [sup(sock, ("web", "started"), ("idle", "started"), ("kept", "started"), ("extra", "started"))],
        "files": [changed_kept, extra],
    })
    assert got["changed"] is True
    assert rows(got, "kind", "name", "action", "what") == [
        ("group", "hadeploy-no-such-group", "create", []),
        ("user", ME, "change", ["comment", "password"]),
        ("user", "hadeploy-no-such-user", "create", []),
        ("folder", str(there), "change", ["mode"]),
        ("folder", str(files / "new"), "create", []),
        ("file", str(files / "web.sh"), "change", ["content"]),
        ("file", str(files / "token"), "change", ["content"]),
        ("file", str(files / "same.txt"), "change", ["mode"]),
        ("file", str(files / "new.txt"), "create", []),
        ("file", str(files / "download.tgz"), "create", []),
        ("file", changed_kept["dest"], "change", ["content"]),
        ("file", extra["dest"], "create", []),
        ("file", old["dest"], "remove", []),
        ("program", "old", "remove", []),
        ("program", "extra", "add", []),
        ("program", "kept", "restart", []),
        ("program", "web", "restart", []),
        ("program", "idle", "start", []),
    ]
    by_name = {(r["kind"], r["name"]): r for r in got["plan"]}
    # A text file's diff; a secret file's content neither before nor after.
    assert by_name[("file", str(files / "web.sh"))]["diff"] == (
        "--- {0}\n+++ {0}\n@@ -1 +1 @@\n-echo old\n+echo new\n".format(files / "web.sh"))
    token = by_name[("file", str(files / "token"))]
    assert token["diff"] is None and token["hidden"] is True
    assert "token" not in json.dumps({k: v for k, v in token.items() if k != "name"})
    # Why each program restarts: the files whose change calls for it.
    assert by_name[("program", "web")]["why"] == [str(files / "web.sh")]
    assert by_name[("program", "kept")]["why"] == [changed_kept["dest"]]
    assert all(r["supervisor"] == "s" for r in got["plan"] if r["kind"] == "program")
    # Nothing changed: files, journal, processes.
    assert {p: p.read_bytes() for p in files.iterdir() if p.is_file()} == before
    assert not (files / "new").exists() and oct(os.stat(there).st_mode & 0o777) == "0o700"
    assert Path(kept["dest"]).read_text() == kept["content"] and os.path.exists(old["dest"])
    assert not os.path.exists(extra["dest"]) and not os.path.exists(os.path.join(folder, journal.JOURNAL))
    assert {n: pid(server, n) for n in ("web", "kept")} == pids
    assert mod.states(server)["idle"] == "STOPPED" and "extra" not in mod.states(server)


def test_a_plan_after_a_deploy_is_empty_and_names_a_restart_left_pending(instance):
    sock, server, _ = instance
    folder = os.path.dirname(sock)
    kept = program_file(folder, "kept")
    s = sup(sock, ("web", "started"), ("idle", "stopped"), ("kept", "started"))
    deploy({"supervisors": [s], "files": [kept]})
    got = plan({"supervisors": [s], "files": [kept]})
    assert got == {"changed": False, "plan": []}
    # A run that recorded web's restart and stopped before making it.
    mod.add_to_journal(s, notified=[{"process": "web", "group": "web"}])
    got = plan({"supervisors": [s], "files": [kept]})
    assert rows(got, "kind", "name", "action", "why", "pending") == [("program", "web", "restart", [], True)]


def test_a_file_that_holds_a_vault_value_shows_no_diff(plugin):
    """The plugin marks `secret` a file whose content holds the clear text
    of a vault value of the host's variables (top level, in a map or list,
    or among the description's, `hadeploy_vars`): a plan or `--diff` shows
    no diff of it. The roles' inputs are not searched."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultLib, VaultSecret

    secret = VaultSecret(b"pw")
    vault = VaultLib([("default", secret)])
    loader = DataLoader()
    loader.set_vault_secrets([("default", secret)])
    try:
        # ansible-core 2.19: values are decrypted with the run's secrets.
        from ansible.parsing.vault import VaultSecretsContext

        if VaultSecretsContext.current(optional=True) is None:
            VaultSecretsContext.initialize(VaultSecretsContext([("default", secret)]))
        else:
            VaultSecretsContext.current().secrets = [("default", secret)]
    except ImportError:
        pass

    def vaulted(text):
        """A `!vault` value as Ansible reads it from a variables file."""
        cipher = vault.encrypt(text).decode()
        return loader.load("v: !vault |\n" + "".join("  %s\n" % line for line in cipher.splitlines()))["v"]

    task_vars = {
        "db_password": vaulted("s3cret-db"),
        "app": {"tokens": [vaulted("tok-123")]},
        "hadeploy_vars": {"api_key": vaulted("key-456")},
        "hadeploy_base_users": [{"password": vaulted("in-the-inputs")}],
        "plain": "s3cret-db-not",
    }
    assert plugin.vault_values(task_vars) == {"s3cret-db", "tok-123", "key-456"}
    action = plugin.ActionModule.__new__(plugin.ActionModule)
    action._task_vars = task_vars
    assert action._holds_secret("password=s3cret-db\n")
    assert action._holds_secret("token: tok-123")
    assert action._holds_secret("KEY=key-456")
    assert not action._holds_secret("password=changeme\n")


def test_a_plan_shows_no_diff_of_a_file_that_is_a_link_or_has_another_name(tmp_path):
    """What a plan's diff shows of a file is that file's: a symbolic link in
    its place is a change of `type` (replaced, not followed), and a file
    with a second hard link (another file of the host, perhaps) shows no
    diff."""
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$hash\n")
    secret.chmod(0o600)
    link = tmp_path / "link.conf"
    link.symlink_to(secret)
    hard = tmp_path / "hard.conf"
    os.link(secret, hard)

    def described(path):
        return {"dest": str(path), "content": "a=1\n", "checksum": None, "base64": False, "owner": ME,
                "group": MY_GROUP, "mode": "0644", "notify": [], "secret": False, "download": False}

    got = plan({"described_files": [described(link), described(hard)]})
    assert rows(got, "name", "action", "what") == [
        (str(link), "change", ["type"]),
        (str(hard), "change", ["content", "mode"]),
    ]
    assert "root:" not in json.dumps(got)
    assert got["plan"][1]["diff"] is None


def test_the_module_takes_the_keys_of_the_inputs_the_plugin_gives_it(plugin):
    """module_utils/items.py, generated from hadeploy's declaration of the
    roles' inputs, holds the options of each item the module takes: the
    module's argument spec is built from them (its DOCUMENTATION is checked
    against the spec, above), and the plugin picks exactly those keys."""
    from ansible_collections.hadeploy.supervisor.plugins.module_utils import items

    spec = mod.ARGUMENT_SPEC
    for option, options in items.ITEM_OPTIONS.items():
        assert spec[option]["options"] == options, option
        assert plugin.ITEM_KEYS[option] == tuple(options)
    supervisors = items.ITEM_OPTIONS["supervisors"]
    assert plugin.PROCESS_KEYS == tuple(supervisors["processes"]["options"]) == ("status", "state", "group", "program")
    assert plugin.HEALTHCHECK_KEYS == tuple(supervisors["healthchecks"]["options"])
    # What the plugin makes itself, not an input.
    assert "changed_groups" in plugin.ITEM_KEYS and "changed_groups" not in items.ITEM_OPTIONS
    # A password stays out of the module's output; a public key need not.
    assert items.ITEM_OPTIONS["users"]["password"]["no_log"] is True
    assert items.ITEM_OPTIONS["authorized_keys"]["key"]["no_log"] is False


def test_a_plan_is_of_the_areas_the_deploy_works_on(instance, tmp_path):
    """`areas` (the tags a deploy runs with, `hadeploy --scope`): without
    `users`, no account is planned; without `supervisor`, no instance is
    read, and the restarts changed files notify are still said; without
    `files`, no file."""
    sock, server, _ = instance
    script = tmp_path / "web.sh"
    script.write_text("old\n")
    web = [{"supervisor": "s", "process": "web", "group": "web"}]
    params = {
        "groups": [{"name": "hadeploy-no-such-group"}],
        "described_files": [{"dest": str(script), "content": "new\n", "checksum": None, "base64": False,
                             "owner": ME, "group": MY_GROUP, "mode": oct(os.stat(script).st_mode & 0o777)[2:].zfill(4),
                             "notify": web, "secret": False, "download": False}],
        "supervisors": [sup(sock, ("web", "started"), ("idle", "started"))],
    }
    everything = rows(plan(params), "kind", "name", "action")
    assert everything == [("group", "hadeploy-no-such-group", "create"), ("file", str(script), "change"),
                          ("program", "web", "restart"), ("program", "idle", "start")]
    assert rows(plan(dict(params, areas=["files"])), "kind", "name", "action", "why") == [
        ("file", str(script), "change", []), ("program", "web", "restart", [str(script)])]
    assert rows(plan(dict(params, areas=["users", "supervisor"])), "kind", "name", "action") == [
        ("group", "hadeploy-no-such-group", "create"), ("program", "idle", "start")]
    assert plan(dict(params, areas=[])) == {"changed": False, "plan": []}


def test_status_and_logs_answer_with_the_lines_ansible_shows(supervisord, tmp_path):
    """The roles show the module's `lines`, made of its typed answer in one
    place: per instance its service, each process with its state and
    description, or why it did not answer; each log line after its
    instance and process."""
    up = {"name": "t", "managed": False, "unit": None, "socket": str(supervisord), "processes": []}
    down = dict(up, name="d", socket=str(tmp_path / "none.sock"))
    with pytest.raises(Done) as e:
        mod.run(FakeModule({"action": "status", "supervisors": [up, down]}))
    lines = e.value.result["lines"]
    assert lines[0] == "supervisor t: not managed here"
    assert "    idle  STOPPED  Not started" in lines and "    crasher  FATAL  Exited too quickly (process log may have details)" in lines
    assert any(re.match(r"^    sleeper  RUNNING  pid \d+, uptime ", line) for line in lines), lines
    assert lines[-2:] == ["supervisor d: not managed here", "    not reachable: unix://%s no such file" % (tmp_path / "none.sock")]
    service = {"unit": "supervisord_t.service", "state": "running", "enabled": False}
    assert mod.status_lines({"t": {"service": service, "running": True, "error": None, "programs": {}}}) == [
        "supervisor t: service supervisord_t.service running, disabled"]
    assert mod.log_lines({"t": {"programs": {"web:w_0": {"lines": ["a", "b"]}}}, "d": {"programs": {}}}) == [
        "t/web:w_0 | a", "t/web:w_0 | b"]


def test_a_plan_shows_no_diff_of_a_file_larger_than_one_it_is_given_whole(tmp_path):
    """A diff of the start of a file larger than the module reads would
    show lines removed that are not: none is shown."""
    big = tmp_path / "big.log"
    big.write_text("x\n" * (mod.MAX_DIFFED // 2 + 1))
    assert mod.text_diff(str(big), "y\n") is None
    small = tmp_path / "small.conf"
    small.write_text("x\n")
    assert mod.text_diff(str(small), "y\n") == "--- {0}\n+++ {0}\n@@ -1 +1 @@\n-x\n+y\n".format(small)


def test_no_function_of_the_collection_s_python_is_over_80_lines():
    """The module holds its actions and module_utils what they share, one
    file per concern; a function that outgrows 80 lines is split."""
    import ast

    long = []
    for path in sorted((COLLECTION / "plugins").glob("*/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > 80:
                    long.append("%s: %s, %d lines" % (path.relative_to(COLLECTION), node.name, lines))
    assert long == []
