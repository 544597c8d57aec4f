# -*- coding: utf-8 -*-
# The journal of an instance: the restarts a change calls for, written
# before the change and cleared once done.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.hadeploy.supervisor.plugins.module_utils.host_files import NotRegular, atomic_write, open_regular, unlink


# The journal of an instance: restarts that a change calls for, written
# before the change and cleared once done, so that a run stopped in
# between (killed, failed, or limited to some tags) is completed by the
# next one.
JOURNAL = ".hadeploy-pending.json"


def journal_path(sup):
    return os.path.join(sup["include_dir"], JOURNAL) if sup.get("include_dir") else None


def read_journal(sup):
    """What an earlier run left to do on an instance. A journal that is not
    a regular file (planted by the instance's account) fails the call."""
    path = journal_path(sup)
    empty = {"restart": False, "notified": []}
    if not path:
        return empty
    try:
        with open_regular(path) as f:
            got = json.loads(f.read(1 << 20).decode("utf-8"))
    except NotRegular:
        raise
    except (OSError, ValueError):
        return empty
    if not isinstance(got, dict):
        return empty
    notified = [n for n in got.get("notified", []) if isinstance(n, dict) and {"process", "group"} <= set(n)]
    return {"restart": got.get("restart") is True, "notified": notified}


def write_journal(sup, pending):
    """Records `pending` for an instance (atomically); False when its folder
    does not exist yet, as before its first deploy (nothing runs there that
    a restart would concern)."""
    path = journal_path(sup)
    if not path or not os.path.isdir(os.path.dirname(path)):
        return False
    atomic_write(path, json.dumps(pending, sort_keys=True).encode("utf-8"))
    return True


def add_to_journal(sup, restart=False, notified=(), check=False):
    """What is pending on an instance once the journal holds `restart` and
    `notified` too, written unless in check mode; and whether it was."""
    before = read_journal(sup)
    pending = merge_pending(before, restart, notified)
    written = pending != before and not check and write_journal(sup, pending)
    return pending, written


def clear_journal(sup):
    path = journal_path(sup)
    if path:
        unlink(path)


def merge_pending(pending, restart=False, notified=()):
    """`pending` with a restart of the instance or of processes added."""
    seen = {(n["process"], n["group"]) for n in pending["notified"]}
    out = {"restart": pending["restart"] or restart, "notified": list(pending["notified"])}
    for n in notified:
        if (n["process"], n["group"]) not in seen:
            seen.add((n["process"], n["group"]))
            out["notified"].append({"process": n["process"], "group": n["group"]})
    return out
