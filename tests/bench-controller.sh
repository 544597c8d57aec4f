#!/usr/bin/env bash
# What a deploy costs the controller, the hosts left out: for each size
# PROGRAMSxHOSTS (default "500x100 50x1000 50x10 50x100"), the generation
# benchmark's description (500 programs on 20 supervisors, hosts in racks
# of 5), its project generated, and its deploy.yml run in check mode with
# every host `ansible_connection=local` and `ansible_python_interpreter=
# /bin/false`: every task is templated and every module payload built and
# sent, and none runs (their failures ignored, so that every host goes
# through every task). Prints per size
#   - CPU-seconds per host of the whole process tree (user + system);
#   - the peak memory of the process tree (the sum of its processes'
#     proportional set sizes, sampled every 0.2 s: forked workers share
#     pages, which RSS would count again for each);
#   - the wall time and the forks used (the project's ansible.cfg).
# Figures only: nothing here fails on a number (docs/benchmarks.md keeps them).
#
#   bash tests/bench-controller.sh                 # or: bash tests/bench-controller.sh 50x20
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
VENV=${HADEPLOY_VENV:-/var/tmp/hadeploy-venv}
[[ -x $VENV/bin/ansible-playbook ]] || HADEPLOY_VENV=$VENV bash "$REPO/tests/setup-venv.sh"
export LANG=${LANG:-C.UTF-8} LC_ALL=${LC_ALL:-C.UTF-8}
SIZES=("$@")
((${#SIZES[@]})) || SIZES=(500x100 50x1000 50x10 50x100)
WORK=$(mktemp -d /tmp/hadeploy-bench-controller.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

cd "$REPO"
cargo build --quiet --release -p hadeploy
HADEPLOY=$(realpath "${CARGO_TARGET_DIR:-$REPO/target}/release/hadeploy")
HADEPLOY_BENCH_SIZES=$(IFS=,; echo "${SIZES[*]}") HADEPLOY_BENCH_RUNS=1 HADEPLOY_BENCH_KEEP=$WORK/desc \
    cargo bench --quiet -p hadeploy-codegen --bench generation >/dev/null

printf '%-10s %12s %12s %10s %6s\n' size 'CPU-s/host' 'peak MiB' 'wall s' forks
for size in "${SIZES[@]}"; do
    hosts=${size#*x}
    project=$WORK/project-$size
    (cd "$WORK/desc/$size" && "$HADEPLOY" generate --src cluster.yml --src app.yml --out "$project" >/dev/null 2>&1)
    # The deploy, every failure ignored and none fatal.
    sed -e 's/^  any_errors_fatal: .*/  any_errors_fatal: false\n  ignore_errors: true/' \
        -e '/^  max_fail_percentage:/d' "$project/deploy.yml" >"$project/bench.yml"
    forks=$(sed -n 's/^forks = //p' "$project/ansible.cfg")
    (cd "$project" && "$VENV/bin/python" - "$hosts" "$forks" <<'PY'
import os, resource, subprocess, sys, time

hosts, forks = int(sys.argv[1]), sys.argv[2]
cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "bench.yml", "--check",
       "-e", "ansible_connection=local", "-e", "ansible_python_interpreter=/bin/false"]
env = dict(os.environ)


def tree(root):
    """The pids of `root` and its descendants."""
    children = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(pid))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def pss(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


start = time.monotonic()
proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
peak = 0
while proc.poll() is None:
    peak = max(peak, sum(pss(p) for p in tree(proc.pid)))
    time.sleep(0.2)
wall = time.monotonic() - start
used = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%-10s %12.2f %12d %10.1f %6s" % (
    os.path.basename(os.getcwd())[len("project-"):], (used.ru_utime + used.ru_stime) / hosts,
    peak >> 20, wall, forks))
PY
    )
done
