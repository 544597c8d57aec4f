"""The role's module against a real supervisord: started by the test on a
unix socket in a temporary folder (supervisor comes with the test venv,
tests/setup-venv.sh). Run with `python -m pytest tests/module`."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

LIBRARY = Path(__file__).resolve().parents[2] / "roles-templates/roles/hadeploy_supervisor/library"
sys.path.insert(0, str(LIBRARY))

import hadeploy_supervisor as mod  # noqa: E402

# Ansible of the same venv as this Python.
ANSIBLE = str(Path(sys.executable).parent / "ansible")

CONF = """\
[unix_http_server]
file={dir}/supervisor.sock
chmod=0700
[supervisord]
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
childlogdir={dir}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
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
    proc.terminate()
    proc.wait(10)


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


def test_ansible_runs_the_module_and_gets_typed_data(supervisord, tmp_path):
    """The module as Ansible runs it: arguments checked against its spec."""
    args = json.dumps({"action": "status", "supervisors": [{"name": "t", "managed": False, "socket": str(supervisord)}]})
    out = subprocess.run(
        [ANSIBLE, "localhost", "-c", "local", "-m", "hadeploy_supervisor", "-a", args, "-o"],
        env={**os.environ, "ANSIBLE_LIBRARY": str(LIBRARY), "ANSIBLE_LOCALHOST_WARNING": "False"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.split(" => ", 1)[1])
    assert result["changed"] is False
    assert result["supervisors"]["t"]["programs"]["sleeper"]["state"] == "RUNNING"
    bad = json.dumps({"action": "status", "supervisors": [{"name": "t", "managed": False, "socket": "/x", "sockett": 1}]})
    out = subprocess.run(
        [ANSIBLE, "localhost", "-c", "local", "-m", "hadeploy_supervisor", "-a", bad, "-o"],
        env={**os.environ, "ANSIBLE_LIBRARY": str(LIBRARY), "ANSIBLE_LOCALHOST_WARNING": "False"},
        capture_output=True,
        text=True,
        check=False,
    )
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


def test_the_documentation_says_what_the_argument_spec_checks():
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert doc["module"] == "hadeploy_supervisor"
    assert spec_of(doc["options"]) == mod.ARGUMENT_SPEC
    for section in (mod.EXAMPLES, mod.RETURN):
        yaml.safe_load(section)
