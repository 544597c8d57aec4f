# -*- coding: utf-8 -*-
# Programs' health checks: an HTTP answer or a command's exit code.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import ssl
import subprocess
import time
import http.client
import urllib.error
import urllib.request


# Seconds between two tries of a health check, and the longest one try may take.
CHECK_INTERVAL = 1


CHECK_TRY = 10


# What a health check's command runs with.
CHECK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def unverified_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# A health check's HTTP client: no proxy (the URL is asked from the host),
# and the certificate not checked (a program on 127.0.0.1 holds one for its
# public name).
NO_PROXY = urllib.request.build_opener(
    urllib.request.ProxyHandler({}),
    urllib.request.HTTPSHandler(context=unverified_context()),
)


def unhealthy(check):
    """None once the health check passes, tried every second for its
    `timeout`; else why it did not pass, with its last answer."""
    deadline = time.monotonic() + check["timeout"]
    while True:
        left = max(1.0, deadline - time.monotonic())
        if check.get("http"):
            ok, answer = probe_http(check["http"], min(left, CHECK_TRY))
            what = check["http"]
        else:
            ok, answer = probe_command(check["command"], check.get("user"), min(left, CHECK_TRY))
            what = " ".join(check["command"])
        if ok:
            return None
        if time.monotonic() + CHECK_INTERVAL >= deadline:
            return "health check `%s` did not pass in %d s (last: %s)" % (what, check["timeout"], answer)
        time.sleep(CHECK_INTERVAL)


def probe_http(url, timeout):
    """Whether `url` answers a GET with a 2xx status, and what it answered."""
    try:
        with NO_PROXY.open(url, timeout=timeout) as answer:
            return 200 <= answer.status < 300, "HTTP %d" % answer.status
    except urllib.error.HTTPError as e:
        return False, "HTTP %d" % e.code
    except urllib.error.URLError as e:
        return False, str(e.reason)
    except (OSError, http.client.HTTPException) as e:
        return False, str(e) or type(e).__name__


def probe_command(argv, user, timeout):
    """Whether `argv` exits 0 within `timeout`, run without a shell in `/`
    (as `user` when this runs as root), and the end of what it printed."""
    env = {"PATH": CHECK_PATH, "LANG": "C.UTF-8"}
    drop = None
    if user and os.geteuid() == 0:
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            return False, "no user %s" % user
        env.update(HOME=pw.pw_dir, USER=user, LOGNAME=user)

        def drop():
            os.setgid(pw.pw_gid)
            os.initgroups(user, pw.pw_gid)
            os.setuid(pw.pw_uid)

    try:
        ran = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd="/", env=env, preexec_fn=drop, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        return False, "no answer in %d s" % timeout
    except OSError as e:
        return False, str(e)
    said = ran.stdout[-300:].decode("utf-8", "replace").strip()
    return ran.returncode == 0, "exit %d%s" % (ran.returncode, ": " + said if said else "")
