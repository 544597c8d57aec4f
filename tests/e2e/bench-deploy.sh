#!/usr/bin/env bash
# Deploy benchmark: times what a user runs every day against test bed hosts
# (testbed.sh; two by default, up to nine), for the user story's simple case
# and for a 50-program variant of it, and prints the figures. A measurement, not a test: it fails
# only when a command fails or a no-change deploy changes something.
#
#   sudo tests/e2e/bench-deploy.sh
#
# For each case, on freshly booted hosts:
#   - ping:     a one-task playbook (ansible.builtin.ping, no facts) through
#               the generated project's ansible.cfg and inventory: the floor
#               for any playbook on these hosts, to read the others against;
#   - first deploy, then RUNS times: no-change deploy, plan (of no change:
#     it exits 0), stop, start, status;
#   - the no-change deploy again without pipelining, and without ssh
#     connection reuse (ControlPersist), to show what each saves;
#   - remove.
# Every run gets a new ssh control folder: no run reuses the connections of
# the one before (as the first command of a working session would not).
#
# Prints, per case and command: wall time (best and median of the runs, the
# hadeploy command line as a user types it, generation included), the same
# as a multiple of the ping, the tasks Ansible ran ("TASK [" and "RUNNING
# HANDLER [" headers), the round trips to the busiest host (ssh and sftp
# executions, counted by a wrapper given as Ansible's ssh and sftp
# executables), the changed= total, and the PLAY RECAP of the last run.
#
# Environment:
#   HADEPLOY_BIN          the hadeploy binary (default: built with
#                         "cargo build --release -p hadeploy", honouring CARGO_TARGET_DIR)
#   HADEPLOY_VENV         virtualenv with ansible-core (default /var/tmp/hadeploy-venv)
#   HADEPLOY_BENCH_HOSTS  the test bed hosts to use, two to nine (default "en1 en2"):
#                         the descriptions name them en1, en2... in this order
#   HADEPLOY_BENCH_RUNS   runs of each repeated command (default 3)
#   HADEPLOY_BENCH_CASES  cases to run (default "simple p50")
#   HADEPLOY_BENCH_PROGRAMS  programs of the large case (default 50; its name follows)
#   HADEPLOY_BENCH_KEEP   1: keep the work folder (projects, logs)

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TESTBED=$HERE/testbed.sh
read -r -a TB_HOSTS <<<"${HADEPLOY_BENCH_HOSTS:-en1 en2}"
RUNS=${HADEPLOY_BENCH_RUNS:-3}
NPROG=${HADEPLOY_BENCH_PROGRAMS:-50}
read -r -a CASES <<<"${HADEPLOY_BENCH_CASES:-simple p$NPROG}"

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
now() { date +%s.%N; }

((${#TB_HOSTS[@]} >= 2 && ${#TB_HOSTS[@]} <= 9)) || die "HADEPLOY_BENCH_HOSTS must name two to nine hosts"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "HADEPLOY_BENCH_RUNS must be a positive number"
[[ $NPROG =~ ^[1-9][0-9]*$ ]] || die "HADEPLOY_BENCH_PROGRAMS must be a positive number"
[[ $(id -u) -eq 0 ]] || die "must run as root (the test bed needs namespaces and systemd-nspawn)"

if [[ -z ${HADEPLOY_TESTBED_SUBREAPER:-} ]]; then
    export HADEPLOY_TESTBED_SUBREAPER=1
    exec "$TESTBED" subreaper "$0" "$@"
fi

# shellcheck source=tests/e2e/lib.sh
source "$HERE/lib.sh"
find_tools || exit 1

WORK=$(mktemp -d /var/tmp/hadeploy-bench.XXXXXX)
UP=0
finish() {
    local rc=$?
    trap - EXIT INT TERM
    ((UP)) && { "$TESTBED" down "${TB_HOSTS[@]}" || rc=1; }
    if ((rc != 0)) || [[ ${HADEPLOY_BENCH_KEEP:-} == 1 ]]; then
        say "projects and logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Throwaway hosts: every fresh host has a new ssh host key.
export ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export ANSIBLE_HOME=$WORK/ansible-home

# Round trips: every ssh and sftp execution Ansible makes, one line each
# (the arguments, the host among them) in $HADEPLOY_BENCH_CALLS.
for tool in ssh sftp; do
    # shellcheck disable=SC2016  # expanded by the wrapper, when it runs
    printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"$HADEPLOY_BENCH_CALLS"\nexec %s "$@"\n' "$tool" >"$WORK/count-$tool"
    chmod +x "$WORK/count-$tool"
done
export ANSIBLE_SSH_EXECUTABLE=$WORK/count-ssh ANSIBLE_SFTP_EXECUTABLE=$WORK/count-sftp

# ---------------------------------------------------------------------------
# The descriptions: the simple case as the suite deploys it, and a variant
# with NPROG programs, each with its own script file that notifies it.

mkdir -p "$WORK/desc/cases" "$WORK/desc/templates" "$WORK/logs"
# The simple case's hosts, one per test bed host: en1 to enN, each at the
# address of the Nth host of HADEPLOY_BENCH_HOSTS (variable enN_addr).
hosts_block() {
    local i
    echo "hosts:"
    for ((i = 1; i <= ${#TB_HOSTS[@]}; i++)); do
        # shellcheck disable=SC2016  # ${...} is hadeploy's, not the shell's
        printf -- '- { name: en%d, ssh_host: "${en%d_addr}", ssh_user: root, ssh_private_key_file: "${root_key}" }\n' "$i" "$i"
    done
    echo
}
{
    hosts_block
    sed '/^hosts:/,/^$/d' "$HERE/fixtures/simple/app.yml"
} >"$WORK/desc/cases/simple.yml"
cp "$HERE/fixtures/templates/program1.sh" "$WORK/desc/templates/"
{
    hosts_block
    cat <<'EOF'
local_templates_folders:
- ../templates

users:
- login: tsup

folders:
- { scope: all, path: /opt/tsup, owner: tsup, group: tsup, mode: "0755" }

supervisors:
- { name: tsupv, scope: all, user: tsup, group: tsup }

files:
EOF
    for ((i = 1; i <= NPROG; i++)); do
        printf -- '- { scope: all, src: "tmpl://prog%03d.sh", dest_folder: /opt/tsup, owner: tsup, group: tsup, mode: "0755", notify: ["supervisor://tsupv/prog%03d"] }\n' "$i" "$i"
    done
    echo
    echo "supervisor_programs:"
    for ((i = 1; i <= NPROG; i++)); do
        printf -- '- { name: prog%03d, supervisor: tsupv, command: "/bin/bash /opt/tsup/prog%03d.sh" }\n' "$i" "$i"
    done
} >"$WORK/desc/cases/p$NPROG.yml"
for ((i = 1; i <= NPROG; i++)); do
    sed "s/^prg=program1$/prg=prog$(printf %03d "$i")/" "$HERE/fixtures/templates/program1.sh" \
        >"$WORK/desc/templates/prog$(printf %03d "$i").sh"
done
cat >"$WORK/desc/ping.yml" <<'EOF'
- name: Ping
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
EOF

"$TESTBED" image >&2
eval "$("$TESTBED" env)"
VARS=()
ADDRS=()
for ((i = 0; i < ${#TB_HOSTS[@]}; i++)); do
    a=$(tb_addr "${TB_HOSTS[i]}") || die "HADEPLOY_BENCH_HOSTS names test bed hosts (en1..en9)"
    ADDRS+=("$a")
    VARS+=(--src "en$((i + 1))_addr=${ADDRS[i]}")
done
VARS+=(--src "root_key=$HADEPLOY_TESTBED_KEY")

# ---------------------------------------------------------------------------
# Measuring

N=0
LOG=
SECS=
# timed LABEL CMD...: runs CMD with a new ssh control folder, output in $LOG,
# wall seconds in $SECS; dies (showing the output's end) if CMD fails.
timed() {
    local label=$1 t0 rc=0
    shift
    N=$((N + 1))
    LOG=$WORK/logs/$(printf '%03d' "$N")-$label.log
    export ANSIBLE_SSH_CONTROL_PATH_DIR=$WORK/cp/$N
    HADEPLOY_BENCH_CALLS=${LOG%.log}.calls
    export HADEPLOY_BENCH_CALLS
    : >"$HADEPLOY_BENCH_CALLS"
    t0=$(now)
    "$@" >"$LOG" 2>&1 || rc=$?
    SECS=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
    # Leave no ssh master behind: the next run must open its own.
    close_masters "$ANSIBLE_SSH_CONTROL_PATH_DIR"
    if ((rc != 0)); then
        tail -n 40 "$LOG" | sed 's/^/    | /' >&2
        die "$label exited with $rc (log $LOG)"
    fi
}

tasks_of() { grep -Ec '^(TASK|RUNNING HANDLER) \[' "$1" || true; }
# trips_of LOG: the ssh and sftp executions of the run to its busiest host.
trips_of() {
    local calls=${1%.log}.calls a n max=0
    for a in "${ADDRS[@]}"; do
        n=$(grep -cw -- "$a" "$calls" || true)
        ((n > max)) && max=$n
    done
    echo "$max"
}
stats() {  # best and median of the numbers given
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.2f %.2f", v[1], m }'
}

ROWS=()
RECAPS=()
# row CASE COMMAND PING_MEDIAN LOG SECS...
row() {
    local case=$1 cmd=$2 ping=$3 log=$4 best med
    shift 4
    read -r best med <<<"$(stats "$@")"
    ROWS+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |' "$case" "$cmd" "$#" "$best" "$med" \
        "$(awk -v m="$med" -v p="$ping" 'BEGIN { printf "%.1f", m / p }')" \
        "$(tasks_of "$log")" "$(trips_of "$log")" "$(recap_count "$log" changed)")")
    RECAPS+=("$case, $cmd:" "$(recap "$log")" "")
}

hd() {  # hd CASE ACTION: the hadeploy command line of CASE
    local case=$1 action=$2
    (cd "$WORK/desc/cases" && "$HADEPLOY" "${VARS[@]}" --src "$case.yml" --action "$action" \
        --workingFolder "$WORK/project-$case")
}

ping_run() { (cd "$WORK/project-$1" && "$VENV/bin/ansible-playbook" ping.yml); }

for case in "${CASES[@]}"; do
    [[ -f $WORK/desc/cases/$case.yml ]] || die "unknown case '$case' (simple or p$NPROG)"
    say "$case: booting fresh hosts ${TB_HOSTS[*]}"
    UP=1
    "$TESTBED" up --fresh "${TB_HOSTS[@]}" >&2
    hd "$case" none >/dev/null

    # Run from the project: its ansible.cfg and inventory apply.
    cp "$WORK/desc/ping.yml" "$WORK/project-$case/ping.yml"
    pings=()
    for ((r = 0; r < RUNS; r++)); do
        timed "$case-ping" ping_run "$case"
        pings+=("$SECS")
    done
    read -r _ ping_med <<<"$(stats "${pings[@]}")"
    row "$case" "ping (one task)" "$ping_med" "$LOG" "${pings[@]}"
    say "$case: ping $ping_med s"

    timed "$case-first-deploy" hd "$case" deploy
    row "$case" "first deploy" "$ping_med" "$LOG" "$SECS"
    say "$case: first deploy $SECS s"

    declare -A times=() logs=()
    for ((r = 0; r < RUNS; r++)); do
        for cmd in deploy plan stop start status; do
            timed "$case-$cmd" hd "$case" "$cmd"
            times[$cmd]+=" $SECS"
            logs[$cmd]=$LOG
            if [[ $cmd == deploy && $(recap_count "$LOG" changed) != 0 ]]; then
                recap "$LOG" >&2
                die "$case: a deploy with nothing changed reported changes (log $LOG)"
            fi
            say "$case: $cmd $SECS s"
        done
    done
    # shellcheck disable=SC2086  # word splitting wanted: the list of times
    {
        row "$case" "no-change deploy" "$ping_med" "${logs[deploy]}" ${times[deploy]}
        row "$case" "plan, no change" "$ping_med" "${logs[plan]}" ${times[plan]}
        row "$case" "stop" "$ping_med" "${logs[stop]}" ${times[stop]}
        row "$case" "start" "$ping_med" "${logs[start]}" ${times[start]}
        row "$case" "status" "$ping_med" "${logs[status]}" ${times[status]}
    }
    unset times logs

    ANSIBLE_PIPELINING=False timed "$case-deploy-no-pipelining" hd "$case" deploy
    row "$case" "no-change deploy, pipelining off" "$ping_med" "$LOG" "$SECS"
    ANSIBLE_SSH_ARGS="-C -o ControlMaster=no" timed "$case-deploy-no-controlpersist" hd "$case" deploy
    row "$case" "no-change deploy, no ssh connection reuse" "$ping_med" "$LOG" "$SECS"

    timed "$case-remove" hd "$case" remove
    row "$case" "remove" "$ping_med" "$LOG" "$SECS"
    say "$case: remove $SECS s"
done

echo
echo "hadeploy $("$HADEPLOY" --version 2>/dev/null | awk '{ print $NF }'), $("$VENV/bin/ansible-playbook" --version | head -n 1), hosts ${TB_HOSTS[*]}, $RUNS runs"
echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| case | command | runs | best s | median s | x ping | tasks | round trips/host | changed |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "PLAY RECAP of the last run of each command:"
echo
printf '%s\n' "${RECAPS[@]}"
