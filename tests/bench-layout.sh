#!/usr/bin/env bash
# The size of a large generated project and what Ansible makes of it:
# writes the generation benchmark's description of PROGRAMSxHOSTS (default
# 500x100: 500 programs on 20 supervisors, 100 hosts in racks of 5),
# generates its project, and prints
#   - the project's size, and its largest files;
#   - the wall time and peak memory of `ansible-inventory --list` on it;
#   - how many files change when one program's command changes, and when a
#     host is added;
#   - with HADEPLOY_BENCH_LINT=1, the time of `ansible-lint` on it.
# Figures only: nothing here fails on a number (docs/benchmarks.md keeps them).
#
#   bash tests/bench-layout.sh            # or HADEPLOY_BENCH_SIZE=1000x50
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SIZE=${HADEPLOY_BENCH_SIZE:-500x100}
VENV=${HADEPLOY_VENV:-/var/tmp/hadeploy-venv}
[[ -x $VENV/bin/ansible-inventory ]] || HADEPLOY_VENV=$VENV bash "$REPO/tests/setup-venv.sh"
export LANG=${LANG:-C.UTF-8} LC_ALL=${LC_ALL:-C.UTF-8}
WORK=$(mktemp -d /tmp/hadeploy-bench-layout.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

cd "$REPO"
cargo build --quiet --release -p hadeploy
HADEPLOY=$(realpath "${CARGO_TARGET_DIR:-$REPO/target}/release/hadeploy")
HADEPLOY_BENCH_SIZES=$SIZE HADEPLOY_BENCH_RUNS=1 HADEPLOY_BENCH_KEEP=$WORK/desc \
    cargo bench --quiet -p hadeploy-codegen --bench generation >/dev/null
DESC=$WORK/desc/$SIZE

generate() { # OUT: the project of $DESC into OUT
    (cd "$DESC" && "$HADEPLOY" generate --src cluster.yml --src app.yml --out "$1" >/dev/null 2>&1)
}
generate "$WORK/a"

echo "hadeploy $("$HADEPLOY" --version | awk '{ print $NF }'), $("$VENV/bin/ansible-inventory" --version | head -n 1), $SIZE (programs x hosts)"
echo
printf 'project: %s bytes in %s files\n' "$(du -sb "$WORK/a" | cut -f1)" "$(find "$WORK/a" -type f | wc -l)"
echo "largest files:"
find "$WORK/a" -type f -printf '%s %P\n' | sort -rn | head -n 4 | awk '{ printf "  %10d  %s\n", $1, $2 }'

# measure CMD...: its wall seconds and peak resident memory, its output dropped.
measure() {
    python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("%.2f s, %.0f MiB" % (time.monotonic() - t, kb / 1024))
PY
}
echo "ansible-inventory --list: $(cd "$WORK/a" && measure "$VENV/bin/ansible-inventory" -i inventory.yml --list)"

# One program's command changed: which files differ.
sed -i '0,/^  command: "/s/^  command: "\(.*\)"$/  command: "\1 --changed"/' "$DESC/app.yml"
generate "$WORK/b"
echo "one command changed: $(diff -rq "$WORK/a" "$WORK/b" | wc -l) file(s) differ:"
diff -rq "$WORK/a" "$WORK/b" | sed "s|$WORK/||g; s/^/  /" || true

if [[ ${HADEPLOY_BENCH_LINT:-} == 1 ]]; then
    echo "ansible-lint: $(cd "$WORK/a" && ANSIBLE_LINT_SKIP_SCHEMA_UPDATE=1 measure "$VENV/bin/ansible-lint" --offline -q)"
fi
