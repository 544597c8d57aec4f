#!/usr/bin/env bash
# Commands in single quotes are run on the hosts (tb), where they expand.
# shellcheck disable=SC2016
#
# End-to-end suite: deploys the user story's descriptions (tests/e2e/fixtures/,
# adapted copies of tests/fixtures/seed/, and a few of its own) with the real
# hadeploy binary and ansible-playbook onto the test bed hosts en1 and en2
# (testbed.sh), and checks the result from outside over ssh and http, as a
# user would, including after faults (a killed supervisord, a crashing
# program, an unreachable host, an interrupted deploy) and from another local
# user's account.
#
#   tests/e2e/suite.sh
#
# Scenarios run in order on the same two hosts, each building on the state the
# previous one left (see tests/e2e/README.md). Prints PASS/FAIL per scenario,
# the wall times, and a last line "N passed, M failed". Exit status: 0 when all
# passed (or skipped, see below), 1 otherwise.
#
# Skips (exit 0, with a message) when not root or when the test bed cannot run
# here (testbed.sh exits 77) -- unless CI is set, where both are failures.
#
# Environment:
#   HADEPLOY_BIN        the hadeploy binary (default: built with
#                       "cargo build --release -p hadeploy", honouring CARGO_TARGET_DIR)
#   HADEPLOY_VENV       virtualenv with ansible-core (default /var/tmp/hadeploy-venv,
#                       created by tests/setup-venv.sh when missing)
#   HADEPLOY_E2E_HOSTS  the three test bed hosts to use (default "en1 en2 en3")
#   HADEPLOY_E2E_KEEP   1: keep the work folder (generated projects, logs) even on success
#   HADEPLOY_E2E_ONLY   run only these scenarios, by number (e.g. "1 12 13"); the
#                       others are listed as SKIP and not counted. 1, 8 and 9 to 14
#                       run alone on fresh hosts; 2 to 7 build on what the ones
#                       before them leave (e.g. "1 2 3").
#   CI                  set (and not "false"/"0"): never skip
#   plus the HADEPLOY_TESTBED_* variables of testbed.sh

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TESTBED=$HERE/testbed.sh
# The descriptions name their hosts en1 and en2 (as in the user story), and
# en3 for the rolling deploys; they run on these three test bed hosts (e.g.
# "en5 en6 en7" beside another user of the test bed).
read -r -a TB_HOSTS <<<"${HADEPLOY_E2E_HOSTS:-en1 en2 en3}"
HOSTS=(en1 en2)

in_ci() { [[ -n ${CI:-} && ${CI,,} != false && ${CI} != 0 ]]; }

# Not being able to run is a skip on a workstation, a failure in CI.
cannot_run() {
    if in_ci; then
        echo "suite: FAIL: $* (CI is set: not skipping)" >&2
        # Once the EXIT trap is set, it prints the summary line.
        if [[ -n ${WORK:-} ]]; then FAILED=1; else echo "0 passed, 1 failed"; fi
        exit 1
    fi
    echo "suite: SKIP: $*" >&2
    exit 0
}

((${#TB_HOSTS[@]} == 3)) || { echo "suite: HADEPLOY_E2E_HOSTS must name three hosts" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || cannot_run "must run as root (the test bed needs namespaces and systemd-nspawn)"

# Become a child subreaper (see testbed.sh): the nspawn processes "up" leaves
# behind are re-parented to this script and reaped when "down" stops them.
if [[ -z ${HADEPLOY_TESTBED_SUBREAPER:-} ]]; then
    export HADEPLOY_TESTBED_SUBREAPER=1
    exec "$TESTBED" subreaper bash "${BASH_SOURCE[0]}" "$@"
fi

SUITE_START=$(date +%s.%N)
WORK=$(mktemp -d /tmp/hadeploy-e2e.XXXXXX)
LOGS=$WORK/logs
mkdir -p "$LOGS"
UP_ATTEMPTED=0
PASSED=0
FAILED=0
RESULTS=()   # "PASS|FAIL  seconds  name"

log() { printf 'suite: %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------------------
# Teardown: always, whatever happened.

finish() {
    local rc=$? r
    trap - EXIT INT TERM
    # Ansible's ssh masters of this run (ControlPersist): none outlives it.
    if declare -F close_masters >/dev/null; then close_masters "$WORK/cp"; fi
    if ((UP_ATTEMPTED)); then
        # Only our hosts: others may belong to someone else's run.
        "$TESTBED" down "${TB_HOSTS[@]}" || { log "teardown failed"; FAILED=$((FAILED + 1)); }
    fi
    echo
    echo "==================== summary ===================="
    for r in "${RESULTS[@]}"; do echo "$r"; done
    echo "wall time: $(since "$SUITE_START") s"
    if ((FAILED > 0 || rc != 0)) || [[ ${HADEPLOY_E2E_KEEP:-} == 1 ]]; then
        echo "logs and generated projects kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    if ((rc != 0 && FAILED == 0)); then FAILED=1; fi
    echo "$PASSED passed, $FAILED failed"
    ((FAILED == 0)) && exit 0
    exit 1
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Tools: hadeploy, ansible-playbook, test bed.

say() { log "$@"; }
# shellcheck source=tests/e2e/lib.sh
source "$HERE/lib.sh"
find_tools || exit 1

# Settings for these throwaway hosts only, given to Ansible by environment:
# every fresh host has a new ssh host key.
export ANSIBLE_HOST_KEY_CHECKING=False
export ANSIBLE_NOCOLOR=1
export ANSIBLE_FORCE_COLOR=0
export ANSIBLE_HOME=$WORK/ansible-home
export ANSIBLE_SSH_CONTROL_PATH_DIR=$WORK/cp

log "booting fresh hosts ${TB_HOSTS[*]}"
UP_ATTEMPTED=1
up_start=$(now)
rc=0
"$TESTBED" up --fresh "${TB_HOSTS[@]}" || rc=$?
if ((rc == 77)); then
    UP_ATTEMPTED=0
    cannot_run "the test bed cannot run on this machine (testbed.sh exit 77)"
fi
((rc == 0)) || { log "testbed.sh up failed ($rc)"; exit 1; }
RESULTS+=("      $(printf '%6s' "$(since "$up_start")") s  (testbed up --fresh)")
eval "$("$TESTBED" env)"
# The test bed host that runs the descriptions' host en1, en2 or en3.
tb_host() { echo "${TB_HOSTS[${1#en} - 1]}"; }
addr_of() { tb_addr "$(tb_host "$1")"; }

# ---------------------------------------------------------------------------
# Fixtures: copied, so that a scenario can edit a template; keys generated.

FIX=$WORK/fixtures
cp -r "$HERE/fixtures" "$FIX"
mkdir -p "$WORK/keys"
ssh-keygen -q -t ed25519 -N '' -C tsup@hadeploy-e2e -f "$WORK/keys/tsup_id"
TSUP_KEY=$WORK/keys/tsup_id

# Variables every fixture may use, given before the description files.
VARS=(--src "en1_addr=$(addr_of en1)" --src "en2_addr=$(addr_of en2)" --src "en3_addr=$(addr_of en3)"
      --src "root_key=$HADEPLOY_TESTBED_KEY" --src "tsup_key=$TSUP_KEY")

# ---------------------------------------------------------------------------
# Helpers

fail() { log "  FAIL: $*"; exit 1; }   # ends the scenario (it runs in a subshell)
ok() { log "  ok: $*"; }

# ssh to host en1 or en2 of the descriptions as root (or as tsup with its
# key), as a user would.
tb() { ssh -F "$HADEPLOY_TESTBED_SSH_CONFIG" "$(tb_host "$1")" "${@:2}" </dev/null; }
tb_tsup() { ssh -F "$HADEPLOY_TESTBED_SSH_CONFIG" -i "$TSUP_KEY" -l tsup "$(tb_host "$1")" "${@:2}" </dev/null; }

LAST_LOG=
HD_RC=0
# next_log NAME: $LAST_LOG becomes the next log of the run, NN-NAME.log.
next_log() {
    local n
    n=$(find "$LOGS" -name '*.log' | wc -l)
    LAST_LOG=$LOGS/$(printf '%02d' "$((n + 1))")-$1.log
}
# logged NAME SHOWN CMD...: CMD, its output in a new $LAST_LOG (next_log
# NAME), its exit status in $HD_RC (never fails); says SHOWN, the exit
# status and the time.
logged() {
    local t0
    next_log "$1"
    t0=$(now)
    HD_RC=0
    "${@:3}" >"$LAST_LOG" 2>&1 || HD_RC=$?
    log "  $2: exit $HD_RC ($(since "$t0") s, log $LAST_LOG)"
}
# run_log NAME CMD...: logged, for Ansible or a tool run without hadeploy.
run_log() { logged "$1" "$1" "${@:2}"; }
# hadeploy's own options for the next runs (a scenario sets them in its subshell).
HD_OPTS=()
# src_of ARG: what --src is given for ARG: NAME=VALUE defines a variable,
# as it is; anything else is a fixture file.
src_of() {
    if [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then printf '%s\n' "$1"; else printf '%s\n' "$FIX/$1"; fi
}
# hd_rc DESC ACTION [FILES|NAME=VALUE...] [-- ANSIBLE_ARGS...]: hadeploy --src FILES
# --action ACTION [-- ANSIBLE_ARGS], with its own working folder per
# description; output in $LAST_LOG, exit status in $HD_RC (never fails: for
# runs that are meant to fail).
hd_rc() {
    local desc=$1 action=$2 srcs=() extra=()
    shift 2
    local args="$*"
    while (($#)); do
        if [[ $1 == -- ]]; then extra=("$@"); break; fi
        srcs+=(--src "$(src_of "$1")")
        shift
    done
    logged "$desc-$action" "hadeploy --src $args --action $action" "$HADEPLOY" "${VARS[@]}" "${srcs[@]}" \
        --action "$action" --workingFolder "$WORK/project-$desc" "${HD_OPTS[@]}" "${extra[@]}"
}

# hd DESC ACTION [FILES...]: as hd_rc, and the scenario fails (showing the
# end of the output) unless hadeploy exits 0.
hd() {
    hd_rc "$@"
    if ((HD_RC != 0)); then
        sed 's/^/    | /' "$LAST_LOG" | tail -n 60 >&2
        fail "hadeploy $2 of ${*:3} exited with $HD_RC"
    fi
}

# recap_field HOST FIELD: FIELD's count (changed, failed...) for HOST in the
# PLAY RECAP of $LAST_LOG.
recap_field() { recap_count "$LAST_LOG" "$2" "$1"; }

# no_change WHAT: the last run reported changed=0 on every host.
no_change() {
    local h
    for h in "${HOSTS[@]}"; do
        [[ $(recap_field "$h" changed) == 0 ]] || fail "$h: $1 reports changed=$(recap_field "$h" changed)"
    done
}

# json_at FILE KEY...: the value at KEY... (an index in a list) of the JSON document FILE: a
# string as it is, a list of strings one per line, anything else as JSON;
# fails (status 1) where there is no such key.
json_at() {
    python3 - "$@" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
if isinstance(v, list) and all(isinstance(x, str) for x in v):
    print("\n".join(v))
else:
    print(v if isinstance(v, str) else json.dumps(v))
PY
}

# report_json DESC ACTION [FILES|NAME=VALUE...] [-- OPTIONS...]: hadeploy --action ACTION
# (status or logs) --format json [OPTIONS] for the description FILES; the
# document (its standard output) in $REPORT_JSON, the rest in $LAST_LOG;
# the scenario fails unless it exits 0.
REPORT_JSON=
report_json() {
    local desc=$1 action=$2 srcs=() opts=()
    shift 2
    while (($#)); do
        if [[ $1 == -- ]]; then opts=("${@:2}"); break; fi
        srcs+=(--src "$(src_of "$1")")
        shift
    done
    REPORT_JSON=$WORK/$action-$desc.json
    # shellcheck disable=SC2016  # expanded by that shell
    logged "$desc-$action" "hadeploy ${srcs[*]} --action $action --format json ${opts[*]}" sh -c '"$@" >"$0"' \
        "$REPORT_JSON" "$HADEPLOY" "${VARS[@]}" "${srcs[@]}" --action "$action" --format json "${opts[@]}" \
        --workingFolder "$WORK/project-$desc"
    ((HD_RC == 0)) || { tail -n 40 "$LAST_LOG" >&2; fail "hadeploy --action $action exited with $HD_RC"; }
}

# check_status HOST: the status in $REPORT_JSON has tsupv's service running
# and answering, and program1 RUNNING with a pid.
check_status() {
    local h=$1 k got
    for k in "service state=running" "running=true" "programs program1 state=RUNNING"; do
        # shellcheck disable=SC2086  # the words of $k are keys
        got=$(json_at "$REPORT_JSON" "$h" supervisors tsupv ${k%=*}) ||
            fail "$h: no ${k%=*} in the status:"$'\n'"$(cat "$REPORT_JSON")"
        [[ $got == "${k#*=}" ]] || fail "$h: status ${k%=*}: $got, not ${k#*=}"
    done
    [[ $(json_at "$REPORT_JSON" "$h" supervisors tsupv programs program1 pid) =~ ^[0-9]+$ ]] ||
        fail "$h: status gives program1 no pid"
}

pids_of() { tb "$1" "pgrep -u tsup -f '$2'" | paste -sd' ' - || true; }
program1_pid() { pids_of "$1" '^/bin/bash /opt/tsup/program1.sh$'; }
supervisord_pid() { pids_of "$1" 'supervisord .*-c /etc/supervisord_tsupv.conf'; }
ctl() { tb "$1" "sudo -u tsup supervisorctl_tsupv ${*:2}"; }

# program1 RUNNING under tsupv on HOST, and its supervisord and program
# processes owned by tsup.
check_running() {
    local h=$1 ps st
    ps=$(tb "$h" 'pgrep -au tsup' || true)
    grep -Eq 'supervisord .*/etc/supervisord_tsupv\.conf' <<<"$ps" ||
        fail "$h: no supervisord with /etc/supervisord_tsupv.conf under tsup; pgrep -au tsup:"$'\n'"$ps"
    grep -q '/opt/tsup/program1.sh' <<<"$ps" ||
        fail "$h: no program1.sh under tsup; pgrep -au tsup:"$'\n'"$ps"
    st=$(ctl "$h" status program1 || true)
    [[ $st =~ ^program1[[:space:]]+RUNNING ]] || fail "$h: supervisorctl_tsupv status program1: $st"
}

no_tsup_process() {
    local h=$1 ps
    ps=$(tb "$h" 'ps -eo user:20,pid,args --no-headers | awk "\$1 == \"tsup\""' || true)
    [[ -z $ps ]] || fail "$h: processes left under tsup:"$'\n'"$ps"
}

# ---------------------------------------------------------------------------
# Scenarios. Each runs in a subshell with errexit; fail() ends it.

scenario_1_simple_deploy() {
    hd simple deploy simple/app.yml
    local h out st
    for h in "${HOSTS[@]}"; do
        check_running "$h"
        ok "$h: supervisord (/etc/supervisord_tsupv.conf) and program1.sh run as tsup, program1 RUNNING"
        out=$(ctl "$h" stop program1 || true)
        [[ $out == "program1: stopped" ]] || fail "$h: stop program1 said: $out"
        st=$(ctl "$h" status program1 || true)
        [[ $st =~ ^program1[[:space:]]+STOPPED ]] || fail "$h: after stop, status program1: $st"
        out=$(ctl "$h" start program1 || true)
        [[ $out == "program1: started" ]] || fail "$h: start program1 said: $out"
        st=$(ctl "$h" status program1 || true)
        [[ $st =~ ^program1[[:space:]]+RUNNING ]] || fail "$h: after start, status program1: $st"
        ok "$h: supervisorctl_tsupv stop/start program1 work"
    done
}

scenario_2_redeploy_no_change() {
    local h before=() after c
    for h in "${HOSTS[@]}"; do before+=("$(program1_pid "$h")"); done
    hd simple deploy simple/app.yml
    for h in "${HOSTS[@]}"; do
        c=$(recap_field "$h" changed)
        [[ $c == 0 ]] || { grep -E '^(changed|TASK)' "$LAST_LOG" | grep -B1 '^changed' >&2 || true
                           fail "$h: second deploy reports changed=${c:-<no recap line>}"; }
    done
    ok "PLAY RECAP: changed=0 on ${HOSTS[*]}"
    local i=0
    for h in "${HOSTS[@]}"; do
        after=$(program1_pid "$h")
        [[ -n ${before[i]} && $after == "${before[i]}" ]] ||
            fail "$h: program1 pid was '${before[i]}', is now '$after'"
        ok "$h: program1 kept pid $after"
        i=$((i + 1))
    done
}

scenario_3_notify_restart() {
    # Same description with notify on the file; switching to it changes nothing.
    hd notify deploy notify/app.yml
    local h p_before=() s_before=() p s i=0
    for h in "${HOSTS[@]}"; do
        p_before+=("$(program1_pid "$h")"); s_before+=("$(supervisord_pid "$h")")
    done
    # A new version of program1.sh.
    sed -i 's/Hello from/Hello (v2) from/' "$FIX/templates/program1.sh"
    hd notify deploy notify/app.yml
    for h in "${HOSTS[@]}"; do
        tb "$h" 'grep -q "Hello (v2) from" /opt/tsup/program1.sh' || fail "$h: program1.sh was not updated"
        check_running "$h"
        p=$(program1_pid "$h"); s=$(supervisord_pid "$h")
        [[ -n $p && $p != "${p_before[i]}" ]] || fail "$h: program1 pid '${p_before[i]}' -> '$p' (expected a restart)"
        [[ -n $s && $s == "${s_before[i]}" ]] || fail "$h: supervisord pid '${s_before[i]}' -> '$s' (expected unchanged)"
        ok "$h: program1 restarted (pid ${p_before[i]} -> $p), supervisord kept pid $s"
        i=$((i + 1))
    done
}

scenario_4_web_interface() {
    # With --diff: supervisord.conf changes (its web section is new), and
    # the password's hash in it must not show in the output.
    hd web deploy web/app.yml -- --diff
    log "  (PLAY RECAP changed: en1=$(recap_field en1 changed) en2=$(recap_field en2 changed))"
    local h addr code page conf
    # One diff of the conf per host, its content hidden.
    local diffs
    diffs=$(grep -Fxc -- '+++ after: /etc/supervisord_tsupv.conf' "$LAST_LOG" || true)
    [[ $diffs == "${#HOSTS[@]}" ]] ||
        fail "the deploy with --diff changed /etc/supervisord_tsupv.conf on $diffs hosts, not ${#HOSTS[@]}"
    grep -Fq '+(hidden: it holds a secret)' "$LAST_LOG" || fail "the conf's diff does not say its content is hidden"
    if grep -Ein 'password|\{SHA\}' "$LAST_LOG" | grep -v 'TASK \[' >&2; then
        fail "the deploy with --diff shows the web password's line (above)"
    fi
    ok "--diff: supervisord.conf changed on ${HOSTS[*]}, its password line not shown"
    for h in "${HOSTS[@]}"; do
        addr=$(addr_of "$h")
        code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$addr:9001/" || true)
        [[ $code == 401 ]] || fail "$h: http://$addr:9001/ without credentials answered '$code', expected 401"
        page=$(curl --noproxy '*' -sf --max-time 10 -u admin:admin "http://$addr:9001/") ||
            fail "$h: http://$addr:9001/ with admin:admin failed"
        grep -q 'program1' <<<"$page" || fail "$h: web page does not list program1"
        grep -q 'class="statusrunning">running<' <<<"$page" ||
            fail "$h: web page does not show program1 running"
        ok "$h: http://$addr:9001/ 401 without credentials, lists program1 running with admin:admin"
        conf=$(tb "$h" 'grep -r admin /etc/supervisord_tsupv.conf; grep -ri password /etc/supervisord_tsupv.conf' || true)
        grep -Eq '^password=\{SHA\}[0-9a-f]{40}$' <<<"$conf" || fail "$h: no {SHA} password in the conf:"$'\n'"$conf"
        if grep -i password <<<"$conf" | grep -Ev '^password=\{SHA\}[0-9a-f]{40}$' | grep -q .; then
            fail "$h: clear-text password line in /etc/supervisord_tsupv.conf:"$'\n'"$conf"
        fi
        ok "$h: /etc/supervisord_tsupv.conf holds the password only as {SHA}"
        check_running "$h"
    done
}

scenario_5_stop_start_status() {
    local h
    hd web stop web/app.yml
    for h in "${HOSTS[@]}"; do no_tsup_process "$h"; done
    ok "stop: no process left under tsup on ${HOSTS[*]}"
    hd web start web/app.yml
    for h in "${HOSTS[@]}"; do check_running "$h"; done
    ok "start: supervisord and program1 back on ${HOSTS[*]}"
    report_json web status web/app.yml
    for h in "${HOSTS[@]}"; do
        check_status "$h"
        ok "$h: status shows tsupv running and program1 RUNNING"
    done
}

scenario_6_nonroot_split() {
    local h st
    hd init deploy nonroot/init.yml
    for h in "${HOSTS[@]}"; do
        tb_tsup "$h" true || fail "$h: cannot ssh as tsup with the generated key after init.yml"
        # tsup is not allowed to become root: the app deployment below has no root.
        tb "$h" 'sudo -l -U tsup' | grep -q 'is not allowed to run sudo' ||
            fail "$h: tsup may use sudo: $(tb "$h" 'sudo -l -U tsup')"
    done
    ok "init.yml (root): tsup reachable over ssh with its key, and has no sudo"
    hd app deploy nonroot/app.yml
    grep -Eq 'become' "$WORK/project-app/inventory.yml" && fail "the app's inventory uses become"
    for h in "${HOSTS[@]}"; do check_running "$h"; done
    ok "app.yml deploy as tsup: program1 RUNNING on ${HOSTS[*]}"
    local s_before=() i=0
    for h in "${HOSTS[@]}"; do s_before+=("$(supervisord_pid "$h")"); done
    hd app stop nonroot/app.yml
    for h in "${HOSTS[@]}"; do
        st=$(ctl "$h" status program1 || true)
        [[ $st =~ ^program1[[:space:]]+STOPPED ]] || fail "$h: after app stop, status program1: $st"
        [[ -z $(program1_pid "$h") ]] || fail "$h: program1.sh still runs after app stop"
        [[ -n ${s_before[i]} && $(supervisord_pid "$h") == "${s_before[i]}" ]] ||
            fail "$h: supervisord pid '${s_before[i]}' -> '$(supervisord_pid "$h")' after app stop (must keep running)"
        i=$((i + 1))
    done
    ok "app stop as tsup: program1 STOPPED, supervisord still running on ${HOSTS[*]}"
    hd app start nonroot/app.yml
    for h in "${HOSTS[@]}"; do check_running "$h"; done
    ok "app start as tsup: program1 RUNNING again on ${HOSTS[*]}"
}

scenario_7_remove() {
    local h left
    # For the log: what runs as tsup before the remove (e.g. sessions of scenario 6).
    for h in "${HOSTS[@]}"; do
        log "  $h: before remove, processes of tsup: $(tb "$h" 'ps -o pid,etime,args -u tsup --no-headers 2>/dev/null' | paste -sd';' - || true)"
    done
    hd web remove web/app.yml
    for h in "${HOSTS[@]}"; do
        no_tsup_process "$h"
        left=$(tb "$h" 'for p in /etc/systemd/system/supervisord_tsupv.service /etc/supervisord_tsupv.conf \
                 /usr/bin/supervisorctl_tsupv /etc/supervisord_tsupv.d /var/log/supervisor_tsupv \
                 /var/run/supervisor_tsupv /opt/tsup; do [ -e "$p" ] && echo "$p"; done; \
                 systemctl list-unit-files --no-legend "supervisord_tsupv*"; \
                 systemctl is-active --quiet supervisord_tsupv && echo "supervisord_tsupv is active"; \
                 id tsup 2>/dev/null' || true)
        [[ -z $left ]] || fail "$h: left after remove:"$'\n'"$left"
        ok "$h: no tsup process; unit, conf, wrapper, include dir, logs, /opt/tsup and user tsup gone"
    done
}

# ---------------------------------------------------------------------------
# Scenario 8: rich/app.yml, deployed on clean hosts (after scenario 7) and
# removed at its end, so that what follows starts from clean hosts again.

# envdump's environment as rich/app.yml describes it, byte for byte.
RICH_ENV=(
    'DQ=say "hi" twice'
    "SQ=it's l'été"
    'PCT=50% off, 100%% sure'
    'COMMA=a,b,,c'
    'COLON=host:9001:/path'
    'UNI=héllo wörld – ✓ 日本語 🚀'
    'EQ=k=v and spaces'
)

# supervisorctl of instance SUPERVISOR on HOST, as user rich.
rctl() { tb "$1" "sudo -u rich supervisorctl_$2 ${*:3}"; }
# pids of rich's processes on HOST whose whole command line is CMD.
rich_pids() { tb "$1" "pgrep -u rich -fx '$2'" | paste -sd' ' - || true; }
rich_supervisord_pid() { tb "$1" "pgrep -u rich -f 'supervisord .*-c /etc/supervisord_$2.conf'" | paste -sd' ' - || true; }

# status_lines TEXT: supervisorctl status lines reduced to "NAME STATE", sorted.
status_lines() { awk 'NF >= 2 { print $1, $2 }' <<<"$1" | sort; }

# Everything rich/app.yml asks for, on HOST.
check_rich() {
    local h=$1 st want got pids ctl_pids e key line env pid n
    # richv: every program in the state asked, nothing else.
    st=$(rctl "$h" richv status || true)
    want=$(printf '%s\n' 'backend:idle STOPPED' 'backend:workers_00 RUNNING' \
                         'backend:workers_01 RUNNING' 'envdump RUNNING' | sort)
    got=$(status_lines "$st")
    [[ $got == "$want" ]] || fail "$h: supervisorctl_richv status:"$'\n'"$st"$'\n'"expected:"$'\n'"$want"
    # Group addressing.
    st=$(rctl "$h" richv status "'backend:*'" || true)
    want=$(printf '%s\n' 'backend:idle STOPPED' 'backend:workers_00 RUNNING' 'backend:workers_01 RUNNING' | sort)
    got=$(status_lines "$st")
    [[ $got == "$want" ]] || fail "$h: supervisorctl_richv status 'backend:*':"$'\n'"$st"
    ok "$h: richv: envdump, backend:workers_00/_01 RUNNING, backend:idle STOPPED; 'backend:*' lists the group"
    # numprocs 2: two processes, the ones supervisor reports.
    pids=$(rich_pids "$h" '/bin/sleep 86402' | tr ' ' '\n' | sort | paste -sd' ' -)
    ctl_pids=$(for n in 00 01; do rctl "$h" richv pid "backend:workers_$n"; done | sort | paste -sd' ' -)
    [[ $pids =~ ^[0-9]+\ [0-9]+$ && $pids == "$ctl_pids" ]] ||
        fail "$h: workers processes (pgrep): '$pids', supervisorctl pid: '$ctl_pids'"
    [[ -z $(rich_pids "$h" '/bin/sleep 86403') ]] || fail "$h: idle (state: stopped) has a process"
    ok "$h: workers runs 2 processes ($pids), idle none"
    # The environment, read back from the running process.
    pid=$(rctl "$h" richv pid envdump || true)
    [[ $pid =~ ^[1-9][0-9]*$ && $pid == "$(rich_pids "$h" '/bin/sleep 86401')" ]] ||
        fail "$h: envdump pid from supervisorctl '$pid', pgrep '$(rich_pids "$h" '/bin/sleep 86401')'"
    env=$(tb "$h" "tr '\\0' '\\n' </proc/$pid/environ") || fail "$h: cannot read /proc/$pid/environ"
    for e in "${RICH_ENV[@]}"; do
        key=${e%%=*}
        line=$(grep -a "^$key=" <<<"$env" || true)
        if [[ $line != "$e" ]]; then
            log "  expected: $(printf '%s' "$e" | od -An -c | tr -s ' \n' ' ')"
            log "  got:      $(printf '%s' "$line" | od -An -c | tr -s ' \n' ' ')"
            fail "$h: envdump's environment: expected [$e], got [$line]"
        fi
    done
    ok "$h: the ${#RICH_ENV[@]} environment values arrive intact in /proc/$pid/environ"
    # edgev: on en2 only.
    if [[ $h == en2 ]]; then
        st=$(rctl "$h" edgev status || true)
        [[ $(status_lines "$st") == 'edge RUNNING' ]] || fail "$h: supervisorctl_edgev status:"$'\n'"$st"
        [[ $(rich_supervisord_pid "$h" edgev) =~ ^[0-9]+$ ]] || fail "$h: no single supervisord for edgev"
        ok "$h: edgev runs edge"
    else
        line=$(tb "$h" 'ls -d /etc/supervisord_edgev* /usr/bin/supervisorctl_edgev /etc/systemd/system/supervisord_edgev.service 2>/dev/null; pgrep -af supervisord_edgev' || true)
        [[ -z $line ]] || fail "$h: edgev (scope en2) is here:"$'\n'"$line"
        ok "$h: no trace of edgev (scope en2)"
    fi
    [[ $(rich_supervisord_pid "$h" richv) =~ ^[0-9]+$ ]] || fail "$h: no single supervisord for richv"
}

# "NAME=PIDS ..." of rich's processes on HOST but envdump, to compare before
# and after a deploy.
rich_pid_map() {
    local h=$1
    printf 'richv=%s workers=%s' "$(rich_supervisord_pid "$h" richv)" \
        "$(rich_pids "$h" '/bin/sleep 86402' | tr ' ' ,)"
    [[ $h == en2 ]] && printf ' edgev=%s edge=%s' "$(rich_supervisord_pid "$h" edgev)" "$(rich_pids "$h" '/bin/sleep 86404')"
    echo
}
envdump_pid() { rich_pids "$1" '/bin/sleep 86401'; }

scenario_8_rich() {
    local h c before=() env_before=() i
    hd rich deploy rich/app.yml
    for h in "${HOSTS[@]}"; do check_rich "$h"; done
    for h in "${HOSTS[@]}"; do before+=("$(rich_pid_map "$h")"); env_before+=("$(envdump_pid "$h")"); done

    hd rich deploy rich/app.yml
    for h in "${HOSTS[@]}"; do
        c=$(recap_field "$h" changed)
        [[ $c == 0 ]] || { grep -B3 -E '^changed:' "$LAST_LOG" >&2 || true
                           fail "$h: second deploy reports changed=${c:-<no recap line>}"; }
    done
    i=0
    for h in "${HOSTS[@]}"; do
        [[ $(rich_pid_map "$h") == "${before[i]}" && $(envdump_pid "$h") == "${env_before[i]}" ]] ||
            fail "$h: pids changed on a second deploy: ${before[i]} envdump=${env_before[i]} -> $(rich_pid_map "$h") envdump=$(envdump_pid "$h")"
        i=$((i + 1))
    done
    ok "second deploy: changed=0 on ${HOSTS[*]}, every process kept its pid"

    # The file notifies envdump: a new version restarts envdump and nothing else.
    sed -i 's/^version=1$/version=2/' "$FIX/rich/templates/rich.conf"
    hd rich deploy rich/app.yml
    i=0
    local e
    for h in "${HOSTS[@]}"; do
        tb "$h" 'grep -qx version=2 /opt/rich/rich.conf' || fail "$h: /opt/rich/rich.conf was not updated"
        e=$(envdump_pid "$h")
        [[ -n $e && $e != "${env_before[i]}" ]] || fail "$h: envdump pid '${env_before[i]}' -> '$e' (expected a restart)"
        [[ $(rich_pid_map "$h") == "${before[i]}" ]] ||
            fail "$h: other processes restarted: ${before[i]} -> $(rich_pid_map "$h") (expected only envdump to restart)"
        check_rich "$h"
        ok "$h: rich.conf updated, envdump restarted (pid ${env_before[i]} -> $e), every other process kept its pid"
        i=$((i + 1))
    done

    hd rich remove rich/app.yml
    local left
    for h in "${HOSTS[@]}"; do
        left=$(tb "$h" 'ps -u rich -o pid,args --no-headers 2>/dev/null; for v in richv edgev; do
                 for p in /etc/systemd/system/supervisord_$v.service /etc/supervisord_$v.conf \
                     /usr/bin/supervisorctl_$v /etc/supervisord_$v.d /var/log/supervisor_$v /var/run/supervisor_$v; do
                   [ -e "$p" ] && echo "$p"; done; done; [ -e /opt/rich ] && echo /opt/rich; id rich 2>/dev/null' || true)
        [[ -z $left ]] || fail "$h: left after removing rich/app.yml:"$'\n'"$left"
        ok "$h: rich/app.yml removed: no process, no file of richv or edgev, no /opt/rich, no user rich"
    done
}

# ---------------------------------------------------------------------------
# Faults. Each starts by deploying the simple case (whatever the hosts hold)
# and leaves it deployed and running on both hosts.


# One supervisord and one program1.sh on HOST, both run by the unit.
check_single() {
    local h=$1 s p
    s=$(supervisord_pid "$h"); p=$(program1_pid "$h")
    [[ $s =~ ^[0-9]+$ && $p =~ ^[0-9]+$ ]] || fail "$h: expected one supervisord and one program1.sh, got supervisord '$s', program1.sh '$p'"
    tb "$h" 'systemctl is-active --quiet supervisord_tsupv' || fail "$h: supervisord_tsupv.service is not active"
    tb "$h" "systemctl show -p MainPID --value supervisord_tsupv" | grep -qx "$s" ||
        fail "$h: supervisord $s is not the main process of supervisord_tsupv.service"
}

scenario_9_supervisord_killed() {
    local h s1 s2 p1 waited=0 now_s
    hd simple deploy simple/app.yml
    for h in "${HOSTS[@]}"; do check_running "$h"; check_single "$h"; done
    s1=$(supervisord_pid en1); s2=$(supervisord_pid en2); p1=$(program1_pid en1)
    tb en1 "kill -KILL $s1" || fail "en1: kill -KILL $s1 failed"
    ok "en1: supervisord ($s1) killed with SIGKILL"
    # What systemd does on its own (Restart=on-failure), for the log.
    while ((waited < 10)); do
        now_s=$(supervisord_pid en1)
        [[ -n $now_s && $now_s != "$s1" ]] && break
        sleep 1; waited=$((waited + 1))
    done
    log "  en1: ${waited}s after the kill: supervisord '${now_s:-none}', program1.sh '$(program1_pid en1)', unit $(tb en1 'systemctl is-active supervisord_tsupv' || true)"
    hd simple deploy simple/app.yml
    check_running en1; check_single en1
    [[ $(supervisord_pid en1) != "$s1" && $(program1_pid en1) != "$p1" ]] ||
        fail "en1: supervisord/program1.sh pids unchanged after the kill ($s1/$p1)"
    ok "en1: deploy converged: one supervisord ($(supervisord_pid en1)) under the unit, one program1.sh, RUNNING"
    check_running en2
    [[ $(supervisord_pid en2) == "$s2" ]] || fail "en2: supervisord pid $s2 -> $(supervisord_pid en2) (en2 was not touched)"
    ok "en2: untouched, supervisord kept pid $s2"
    report_json simple status simple/app.yml
    for h in "${HOSTS[@]}"; do check_status "$h"; done
    ok "status: tsupv running and program1 RUNNING on ${HOSTS[*]}"
    # Program logs from every host, read through supervisord, as JSON.
    local got
    report_json simple logs simple/app.yml -- --lines 3
    for h in "${HOSTS[@]}"; do
        got=$(json_at "$REPORT_JSON" "$h" supervisors tsupv programs program1 lines) ||
            fail "$h: no logs of program1 in the JSON:"$'\n'"$(cat "$REPORT_JSON")"
        grep -q 'from tsup:program1 to stdout' <<<"$got" || fail "$h: program1's log: [$got]"
        (($(wc -l <<<"$got") <= 3)) || fail "$h: more than 3 lines with --lines 3: [$got]"
    done
    ok "logs: program1's greeting from ${HOSTS[*]} (--format json --lines 3)"
}

scenario_10_program_crashes() {
    local h st
    hd simple deploy simple/app.yml
    # crasher: /bin/sh -c 'echo boom >&2; exit 1'
    hd_rc crash deploy crash/broken.yml crash/app.yml
    ((HD_RC != 0)) || fail "the deploy of a program that crashes at start exited 0"
    grep -q crasher "$LAST_LOG" || { tail -n 40 "$LAST_LOG" >&2; fail "the failed deploy's output does not name crasher"; }
    grep -q boom "$LAST_LOG" || { tail -n 40 "$LAST_LOG" >&2; fail "the failed deploy's output does not show crasher's 'boom'"; }
    log "  the failed deploy says:"
    grep -E 'crasher|boom' "$LAST_LOG" | cut -c1-300 | head -n 12 | sed 's/^/    | /' >&2
    ok "deploy exited $HD_RC, its output names crasher and shows 'boom'"
    for h in "${HOSTS[@]}"; do check_running "$h"; done
    ok "program1 still RUNNING on ${HOSTS[*]}"
    # Fixed: crasher now runs /bin/sh -c 'echo fixed; exec /bin/sleep 86405'.
    hd crash deploy crash/fixed.yml crash/app.yml
    for h in "${HOSTS[@]}"; do
        st=$(ctl "$h" status crasher || true)
        [[ $st =~ ^crasher[[:space:]]+RUNNING ]] || fail "$h: after the fix, status crasher: $st"
        [[ -n $(pids_of "$h" '^/bin/sleep 86405$') ]] || fail "$h: no process of the fixed crasher"
        check_running "$h"
    done
    ok "after the fix: deploy exit 0, crasher and program1 RUNNING on ${HOSTS[*]}"
    hd simple deploy simple/app.yml
    for h in "${HOSTS[@]}"; do
        st=$(ctl "$h" status || true)
        grep -q crasher <<<"$st" && fail "$h: crasher still known after deploying simple/app.yml:"$'\n'"$st"
        [[ -z $(pids_of "$h" '^/bin/sleep 86405$') ]] || fail "$h: crasher's process still runs"
        check_running "$h"
    done
    ok "simple/app.yml again: crasher gone, program1 RUNNING on ${HOSTS[*]}"
}

# The deploy in $LAST_LOG failed ($HD_RC) naming en2 unreachable.
check_en2_unreachable() {
    ((HD_RC != 0)) || fail "deploy with en2 down exited 0"
    grep -Eq '^fatal: \[en2\]: UNREACHABLE!' "$LAST_LOG" ||
        { tail -n 40 "$LAST_LOG" >&2; fail "the deploy's output has no 'fatal: [en2]: UNREACHABLE!'"; }
    [[ $(recap_field en2 unreachable) == 1 ]] ||
        fail "PLAY RECAP does not count en2 unreachable:"$'\n'"$(recap "$LAST_LOG")"
}

scenario_11_host_unreachable() {
    local h en2_tb
    en2_tb=$(tb_host en2)
    hd simple deploy simple/app.yml
    close_masters "$WORK/cp"
    # Whatever happens below, en2 comes back for what follows.
    # shellcheck disable=SC2064  # expanded now: the function's locals are gone at exit
    trap "tb en2 true 2>/dev/null || \"\$TESTBED\" up $en2_tb >&2 || true" EXIT
    "$TESTBED" down "$en2_tb" || fail "testbed.sh down $en2_tb failed"
    hd_rc simple deploy simple/app.yml
    ((HD_RC != 0)) || fail "deploy with en2 down exited 0"
    check_en2_unreachable
    log "  the failed deploy says:"
    grep -E 'UNREACHABLE|^en[12] ' "$LAST_LOG" | cut -c1-300 | sed 's/^/    | /' >&2
    ok "deploy exited $HD_RC, naming en2 unreachable"
    check_running en1
    ok "en1: program1 still RUNNING"
    "$TESTBED" up "$en2_tb" || fail "testbed.sh up $en2_tb failed"
    hd simple deploy simple/app.yml
    for h in "${HOSTS[@]}"; do check_running "$h"; done
    ok "en2 back (fresh disk): deploy exit 0, program1 RUNNING on ${HOSTS[*]}"
}

# Scenario 12: exit_on_fail with en2 unreachable. partial/app.yml is
# simple/app.yml plus program2 (/bin/sleep 86406): a change for en1.

program2_pids() { pids_of "$1" '^/bin/sleep 86406$'; }


scenario_12_exit_on_fail() {
    local h en2_tb st
    en2_tb=$(tb_host en2)
    hd simple deploy simple/app.yml
    [[ -z $(program2_pids en1) ]] || fail "en1: program2 runs before the scenario"
    close_masters "$WORK/cp"
    # shellcheck disable=SC2064  # expanded now: the function's locals are gone at exit
    trap "tb en2 true 2>/dev/null || \"\$TESTBED\" up $en2_tb >&2 || true" EXIT
    "$TESTBED" down "$en2_tb" || fail "testbed.sh down $en2_tb failed"

    # exit_on_fail: yes (any_errors_fatal: true). Ansible counts an
    # unreachable host as an error of the task (ansible-core's linear
    # strategy): after the first task that tries en2, every host stops.
    hd_rc partial deploy partial/fail_fast.yml partial/app.yml
    check_en2_unreachable
    log "  exit_on_fail: yes; the deploy says:"
    grep -E 'UNREACHABLE|NO MORE HOSTS|^en[12] ' "$LAST_LOG" | cut -c1-300 | sed 's/^/    | /' >&2
    [[ -z $(program2_pids en1) ]] || fail "en1: program2 runs: exit_on_fail: yes went on with en1 after en2 failed"
    st=$(ctl en1 status program2 2>&1 || true)
    grep -q RUNNING <<<"$st" && fail "en1: supervisorctl_tsupv status program2: $st"
    tb en1 'ls /etc/supervisord_tsupv.d/' | grep -q program2 &&
        fail "en1: program2's file was written: $(tb en1 'ls /etc/supervisord_tsupv.d/')"
    [[ $(recap_field en1 changed) == 0 ]] || fail "en1: PLAY RECAP changed=$(recap_field en1 changed) with exit_on_fail: yes"
    check_running en1
    ok "exit_on_fail: yes: exit $HD_RC naming en2 unreachable; en1 stopped too: no program2, changed=0, program1 RUNNING"

    # exit_on_fail: no: en1 goes on to the end of the play.
    hd_rc partial deploy partial/keep_going.yml partial/app.yml
    check_en2_unreachable
    log "  exit_on_fail: no; the deploy says:"
    grep -E 'UNREACHABLE|NO MORE HOSTS|^en[12] ' "$LAST_LOG" | cut -c1-300 | sed 's/^/    | /' >&2
    [[ $(recap_field en1 failed) == 0 && $(recap_field en1 unreachable) == 0 ]] ||
        fail "en1: PLAY RECAP failed=$(recap_field en1 failed) unreachable=$(recap_field en1 unreachable)"
    [[ $(recap_field en1 changed) -gt 0 ]] || fail "en1: PLAY RECAP changed=$(recap_field en1 changed), expected a change"
    st=$(ctl en1 status program2 || true)
    [[ $st =~ ^program2[[:space:]]+RUNNING ]] || fail "en1: status program2: $st"
    [[ $(program2_pids en1) =~ ^[0-9]+$ && $(program2_pids en1) == "$(ctl en1 pid program2)" ]] ||
        fail "en1: program2 processes '$(program2_pids en1)', supervisorctl pid '$(ctl en1 pid program2)'"
    check_running en1; check_single en1
    ok "exit_on_fail: no: exit $HD_RC naming en2 unreachable; en1 fully deployed: program2 RUNNING (pid $(program2_pids en1)), program1 RUNNING"

    "$TESTBED" up "$en2_tb" || fail "testbed.sh up $en2_tb failed"
    hd simple deploy simple/app.yml
    for h in "${HOSTS[@]}"; do
        check_running "$h"
        [[ -z $(program2_pids "$h") ]] || fail "$h: program2 still runs after deploying simple/app.yml"
    done
    ok "en2 back (fresh disk): simple/app.yml deployed on ${HOSTS[*]}, program2 gone from en1"
}

# ---------------------------------------------------------------------------
# Scenario 13: deploys of rich/app.yml interrupted halfway, then finished.

BG_PID=
# hd_bg DESC ACTION [FILES...]: as hd_rc, but started in the background in a
# session of its own (its process group: hadeploy and ansible-playbook, as
# in a terminal); pid (= process group) in $BG_PID, output in $LAST_LOG,
# unbuffered so that it can be followed.
hd_bg() {
    local desc=$1 action=$2 f srcs=()
    shift 2
    for f in "$@"; do srcs+=(--src "$FIX/$f"); done
    next_log "$desc-$action-interrupted"
    PYTHONUNBUFFERED=1 setsid "$HADEPLOY" "${VARS[@]}" "${srcs[@]}" --action "$action" \
        --workingFolder "$WORK/project-$desc" >"$LAST_LOG" 2>&1 &
    BG_PID=$!
    # Not a process group leader here (no job control): setsid did not fork.
    # The child calls setsid just after the fork: give it that moment.
    local i
    for i in $(seq 50); do
        [[ $(ps -o sid= -p "$BG_PID" | tr -d ' ') == "$BG_PID" ]] && break
        ((i < 50)) || fail "hadeploy ($BG_PID) is not in a session of its own"
        sleep 0.05
    done
    log "  hadeploy --src $* --action $action started in the background (pid $BG_PID, log $LAST_LOG)"
}

# The background hadeploy still runs (an ended one may linger as a zombie
# until "wait" collects it).
bg_running() {
    local st
    st=$(ps -o stat= -p "$BG_PID" 2>/dev/null) || return 1
    [[ $st != Z* ]]
}

# wait_log REGEX SECONDS: until a line of $LAST_LOG matches (fails after SECONDS).
wait_log() {
    local i
    for ((i = 0; i < $2 * 5; i++)); do
        grep -Eq "$1" "$LAST_LOG" && return 0
        bg_running || { tail -n 30 "$LAST_LOG" >&2; fail "hadeploy ended before '$1'"; }
        sleep 0.2
    done
    tail -n 30 "$LAST_LOG" >&2
    fail "no '$1' in the output after $2 s"
}

# wait_bg SECONDS: the exit status of the background hadeploy in $HD_RC
# (fails if it still runs after SECONDS).
wait_bg() {
    local i
    for ((i = 0; i < $1 * 5; i++)); do
        bg_running || break
        sleep 0.2
    done
    bg_running && fail "hadeploy ($BG_PID) still runs $1 s after the signal"
    HD_RC=0
    wait "$BG_PID" || HD_RC=$?
}

# The ansible-playbook processes of this suite run (main and workers; the
# workers are in sessions of their own), told apart by their environment.
our_ansible() {
    local p
    for p in $(pgrep -f ansible-playbook || true); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "ANSIBLE_HOME=$ANSIBLE_HOME" && echo "$p"
    done
    return 0
}

# None of our ansible-playbook processes within 10 s.
no_ansible_left() {
    local i left
    for ((i = 0; i < 50; i++)); do
        left=$(our_ansible)
        [[ -z $left ]] && return 0
        sleep 0.2
    done
    fail "ansible-playbook still runs after hadeploy ended: $(ps -o pid,args -p "$(paste -sd, <<<"$left")" || true)"
}

scenario_13_interrupted_deploy() {
    local h c before=() i
    hd simple deploy simple/app.yml
    trap 'if [[ -n $BG_PID ]]; then kill -TERM -- "-$BG_PID" 2>/dev/null || true; fi' EXIT

    # rich/app.yml from nothing (8 removed it), stopped like a Ctrl-C in a
    # terminal, SIGINT to hadeploy's process group, once the supervisor
    # part has started (user, folder and file done, no instance yet: the
    # module's call is under way).
    hd_bg rich deploy rich/app.yml
    wait_log '^TASK \[hadeploy.supervisor.hadeploy_supervisor : Deploy supervisord instances and programs\]' 300
    kill -INT -- "-$BG_PID"
    wait_bg 60
    ((HD_RC == 130)) || { tail -n 30 "$LAST_LOG" >&2; fail "hadeploy exited $HD_RC after SIGINT, expected 130"; }
    grep -q 'interrupted by SIGINT' "$LAST_LOG" || fail "hadeploy did not say it was interrupted"
    no_ansible_left
    log "  the interrupted deploy ends with:"
    tail -n 4 "$LAST_LOG" | cut -c1-200 | sed 's/^/    | /' >&2
    for h in "${HOSTS[@]}"; do
        log "  $h after the interrupt: $(tb "$h" 'id rich; ls -d /opt/rich/* /etc/supervisord_richv* /etc/supervisord_edgev* 2>/dev/null; pgrep -u rich -a' | paste -sd';' - || true)"
    done
    ok "Ctrl-C (SIGINT to the process group) after the supervisor part started: exit 130, no ansible-playbook left"

    # Again, from that half state, stopped by SIGTERM to hadeploy alone (as
    # kill PID, or a CI job's timeout), once an instance runs:
    # hadeploy passes it on to ansible-playbook and waits for it.
    hd_bg rich deploy rich/app.yml
    wait_log '^TASK \[hadeploy.supervisor.hadeploy_supervisor : Deploy supervisord instances and programs\]' 300
    local tries=0
    until tb en1 'pgrep -u rich -f "supervisord "' >/dev/null; do
        bg_running || fail "hadeploy ended before an instance started"
        ((++tries < 600)) || fail "no instance started in 120 s"
        sleep 0.2
    done
    kill -TERM "$BG_PID"
    wait_bg 60
    ((HD_RC == 143)) || { tail -n 30 "$LAST_LOG" >&2; fail "hadeploy exited $HD_RC after SIGTERM, expected 143"; }
    grep -q 'interrupted by SIGTERM' "$LAST_LOG" || fail "hadeploy did not say it was interrupted"
    no_ansible_left
    BG_PID=
    for h in "${HOSTS[@]}"; do
        log "  $h after the interrupt: $(tb "$h" 'ls /etc/supervisord_richv.d/ /etc/supervisord_edgev.d/ 2>/dev/null; pgrep -u rich -a' | paste -sd';' - || true)"
    done
    ok "SIGTERM to hadeploy alone once instances start: exit 143, ansible-playbook stopped with it"

    # The next deploy finishes the job: everything once, nothing twice.
    hd rich deploy rich/app.yml
    for h in "${HOSTS[@]}"; do
        check_rich "$h"
        [[ $(rich_supervisord_pid "$h" richv) =~ ^[0-9]+$ ]] || fail "$h: supervisord of richv: '$(rich_supervisord_pid "$h" richv)'"
        [[ $(tb "$h" 'pgrep -c -u rich -f "supervisord "' || true) == "$([[ $h == en2 ]] && echo 2 || echo 1)" ]] ||
            fail "$h: supervisord processes of rich: $(tb "$h" 'pgrep -a -u rich -f "supervisord "' || true)"
        [[ $(tb "$h" 'pgrep -c -u rich -x sleep' || true) == "$([[ $h == en2 ]] && echo 4 || echo 3)" ]] ||
            fail "$h: programs of rich: $(tb "$h" 'pgrep -a -u rich -x sleep' || true)"
        [[ $(tb "$h" 'cat /opt/rich/rich.conf') == "$(cat "$FIX/rich/templates/rich.conf")" ]] ||
            fail "$h: /opt/rich/rich.conf differs from the template: $(tb "$h" 'cat /opt/rich/rich.conf' || true)"
        check_running "$h"; check_single "$h"
    done
    ok "deploy after the interrupts: exit 0; one supervisord per instance, each program's processes once, rich.conf complete; tsupv untouched"
    for h in "${HOSTS[@]}"; do before+=("$(rich_pid_map "$h") envdump=$(envdump_pid "$h")"); done
    hd rich deploy rich/app.yml
    i=0
    for h in "${HOSTS[@]}"; do
        c=$(recap_field "$h" changed)
        [[ $c == 0 ]] || { grep -B3 -E '^changed:' "$LAST_LOG" >&2 || true
                           fail "$h: the deploy after reports changed=${c:-<no recap line>}"; }
        [[ "$(rich_pid_map "$h") envdump=$(envdump_pid "$h")" == "${before[i]}" ]] ||
            fail "$h: pids changed: ${before[i]} -> $(rich_pid_map "$h") envdump=$(envdump_pid "$h")"
        i=$((i + 1))
    done
    ok "one more deploy: changed=0 on ${HOSTS[*]}, every pid kept"
    hd rich remove rich/app.yml
    for h in "${HOSTS[@]}"; do
        [[ -z $(tb "$h" 'ps -u rich -o pid= 2>/dev/null; id rich 2>/dev/null' || true) ]] || fail "$h: rich left after remove"
        check_running "$h"
    done
    ok "rich/app.yml removed; simple/app.yml still running on ${HOSTS[*]}"
}

# ---------------------------------------------------------------------------
# Scenario 14: another local user and the instance's control socket.

scenario_14_other_user() {
    local h out sock p1
    hd simple deploy simple/app.yml
    trap 'for h in "${HOSTS[@]}"; do tb "$h" "userdel -r intruder" >/dev/null 2>&1 || true; done' EXIT
    for h in "${HOSTS[@]}"; do
        tb "$h" 'id intruder >/dev/null 2>&1 || useradd -m -s /bin/bash intruder' || fail "$h: cannot create user intruder"
        [[ " $(tb "$h" 'id -nG intruder') " != *" tsup "* ]] || fail "$h: intruder is in group tsup"
        p1=$(program1_pid "$h")
        # The instance's socket: the conf's [unix_http_server] file.
        sock=$(tb "$h" "sed -n 's/^file=//p' /etc/supervisord_tsupv.conf")
        [[ $sock == /* ]] || fail "$h: no socket file in /etc/supervisord_tsupv.conf"
        out=$(tb "$h" "stat -c '%F %a %U:%G' '$sock'")
        [[ $out == "socket 700 tsup:tsup" ]] || fail "$h: $sock is '$out', expected 'socket 700 tsup:tsup'"
        out=$(tb "$h" "stat -c '%a %U:%G' '$(dirname "$sock")'")
        ok "$h: $sock is a socket, 0700 tsup:tsup (its folder: $out)"

        out=$(tb "$h" 'cd /tmp && sudo -u intruder supervisorctl_tsupv status 2>&1; echo "exit=$?"')
        log "  $h: intruder's supervisorctl_tsupv status: $(paste -sd' ' <<<"$out" | cut -c1-300)"
        grep -qi 'permission denied' <<<"$out" || fail "$h: intruder got no permission error:"$'\n'"$out"
        grep -q program1 <<<"$out" && fail "$h: intruder sees the status of program1:"$'\n'"$out"
        grep -qx 'exit=0' <<<"$out" && fail "$h: intruder's supervisorctl_tsupv status exited 0"
        out=$(tb "$h" 'cd /tmp && sudo -u intruder supervisorctl_tsupv stop program1 2>&1; echo "exit=$?"')
        grep -qi 'permission denied' <<<"$out" || fail "$h: intruder's stop program1:"$'\n'"$out"
        [[ $(program1_pid "$h") == "$p1" ]] || fail "$h: program1 pid $p1 -> $(program1_pid "$h") after intruder's stop"
        ok "$h: intruder (not in group tsup): 'status' and 'stop program1' refused (permission denied), nothing shown, program1 kept pid $p1"

        check_running "$h"
        ok "$h: tsup still sees and controls program1"
    done
}

# ---------------------------------------------------------------------------
# Scenario 15: HADeploy's documented forms (hadeploy/app.yml), deployed,
# checked in the running processes, then removed.

# pids of hdoc's processes on HOST whose whole command line is CMD.
hdoc_pids() { tb "$1" "pgrep -u hdoc -fx '$2'" | paste -sd' ' - || true; }

# A YAML inventory of the test bed, its `greeting` encrypted, and its
# vault password file, in $WORK/inventory.
write_vault_inventory() {
    local dir=$WORK/inventory h
    mkdir -p "$dir"
    printf 'e2e-vault-password\n' >"$dir/vault_password"
    {
        printf 'all:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: %s\n    app_home: /opt/hdoc\n' \
            "$HADEPLOY_TESTBED_KEY"
        "$VENV/bin/ansible-vault" encrypt_string --vault-password-file "$dir/vault_password" \
            'hello from the vault' --name greeting 2>/dev/null | sed 's/^/    /'
        printf '  hosts:\n'
        for h in "${HOSTS[@]}"; do printf '    %s: { ansible_host: %s }\n' "$h" "$(addr_of "$h")"; done
    } >"$dir/hosts.yml"
}

scenario_15_hadeploy_forms() {
    local h pid env line path got
    write_vault_inventory
    VARS+=(--src "inventory=$WORK/inventory/hosts.yml" --src "vault_password_file=$WORK/inventory/vault_password")
    hd hadeploy deploy hadeploy/app.yml
    # The encrypted value stays encrypted in the project; Ansible decrypted it.
    ! grep -rq 'hello from the vault' "$WORK/project-hadeploy" ||
        fail "the vault's clear text is in the generated project"
    grep -q '^      greeting: !vault ' "$WORK/project-hadeploy/inventory.yml" ||
        fail "the inventory's greeting is not written !vault in the project"
    for h in "${HOSTS[@]}"; do
        pid=$(hdoc_pids "$h" '/bin/sleep 86405')
        [[ $pid =~ ^[1-9][0-9]*$ ]] || fail "$h: program2 has no single process: '$pid'"
        env=$(tb "$h" "tr '\\0' '\\n' </proc/$pid/environ") || fail "$h: cannot read /proc/$pid/environ"
        for line in 'MY_HOME=/opt/program 2' 'JAVA_HOME=/usr/java/jdk1.8.0_74' 'GREETING=hello from the vault'; do
            grep -qxF "$line" <<<"$env" || fail "$h: program2's environment lacks [$line]:"$'\n'"$env"
        done
        path=$(grep -a '^PATH=' <<<"$env" || true)
        # supervisor expanded %(ENV_PATH)s to supervisord's own PATH.
        [[ $path == PATH=/opt/program2/bin:/* && $path != *'%('* ]] ||
            fail "$h: program2's PATH is [$path], expected /opt/program2/bin: then supervisord's PATH"
        ok "$h: program2 runs with MY_HOME='/opt/program 2', JAVA_HOME, the inventory's decrypted GREETING and $path"
        # ${port + 1}: the web program listens on 9181.
        got=$(tb "$h" 'for i in $(seq 50); do curl -fs -o /dev/null -w "%{http_code}" http://127.0.0.1:9181/ && break; sleep 0.2; done' || true)
        [[ $got == 200 ]] || fail "$h: nothing answers on 127.0.0.1:9181 (\${port + 1}): '$got'"
        [[ -n $(hdoc_pids "$h" '/usr/bin/python3 -m http.server 9181 --bind 127.0.0.1') ]] ||
            fail "$h: no process runs 'http.server 9181'"
        ok "$h: web runs 'python3 -m http.server 9181' (\${port + 1}) and answers 200"
        got=$(tb "$h" 'stat -c "%U %a" /opt/hdoc/logs' || true)
        [[ $got == 'hdoc 750' ]] || fail "$h: /opt/hdoc/logs ({{ app_home }}/logs) is [$got], expected 'hdoc 750'"
        ok "$h: the folder {{ app_home }}/logs is /opt/hdoc/logs, hdoc's, mode 750"
    done
    hd hadeploy deploy hadeploy/app.yml
    no_change "the second deploy"
    ok "second deploy: changed=0"
    hd hadeploy remove hadeploy/app.yml
    for h in "${HOSTS[@]}"; do
        line=$(tb "$h" 'ps -u hdoc -o pid,args --no-headers 2>/dev/null; id hdoc 2>/dev/null; ls -d /etc/supervisord_tech1* /opt/hdoc 2>/dev/null' || true)
        [[ -z $line ]] || fail "$h: left after remove:"$'\n'"$line"
    done
    ok "removed: no process, user or file of tech1 left"
}

scenario_16_pending_restarts() {
    local h p_before=() s_before=() p s i=0
    hd notify deploy notify/app.yml
    for h in "${HOSTS[@]}"; do
        p_before+=("$(program1_pid "$h")"); s_before+=("$(supervisord_pid "$h")")
    done
    # `--scope files` runs the files only: program1.sh changes, and the
    # restart it notifies is made all the same.
    sed -i -E 's/Hello( \(v[0-9]\))? from/Hello (v3) from/' "$FIX/templates/program1.sh"
    HD_OPTS=(--scope files)
    hd notify deploy notify/app.yml
    HD_OPTS=()
    if grep -q 'TASK \[hadeploy.supervisor.hadeploy_supervisor : Deploy supervisord' "$LAST_LOG"; then
        fail "--scope files deployed supervisors"
    fi
    for h in "${HOSTS[@]}"; do
        tb "$h" 'grep -q "Hello (v3) from" /opt/tsup/program1.sh' || fail "$h: program1.sh was not updated"
        p=$(program1_pid "$h"); s=$(supervisord_pid "$h")
        [[ -n $p && $p != "${p_before[i]}" ]] || fail "$h: program1 pid '${p_before[i]}' -> '$p' (expected a restart)"
        [[ $s == "${s_before[i]}" ]] || fail "$h: supervisord pid '${s_before[i]}' -> '$s' (expected unchanged)"
        i=$((i + 1))
    done
    ok "--scope files: program1.sh changed and program1 restarted on ${HOSTS[*]}, supervisord untouched"

    # A deploy killed between writing supervisord.conf and restarting
    # supervisord: a systemctl first on the hosts' PATH kills the module
    # that calls it to restart the instance.
    local wrapper
    # shellcheck disable=SC2016 # expanded on the host
    wrapper='#!/bin/sh
if [ "$1" = restart ]; then kill -KILL "$PPID"; exit 137; fi
exec /usr/bin/systemctl "$@"'
    for h in "${HOSTS[@]}"; do
        tb "$h" "cat >/usr/local/sbin/systemctl <<'EOF'
$wrapper
EOF
chmod 755 /usr/local/sbin/systemctl"
    done
    s_before=()
    for h in "${HOSTS[@]}"; do s_before+=("$(supervisord_pid "$h")"); done
    hd_rc web deploy web/app.yml
    for h in "${HOSTS[@]}"; do tb "$h" 'rm -f /usr/local/sbin/systemctl'; done
    ((HD_RC != 0)) || fail "the deploy whose module was killed exited 0"
    i=0
    for h in "${HOSTS[@]}"; do
        tb "$h" 'grep -q "^\[inet_http_server\]" /etc/supervisord_tsupv.conf' || fail "$h: supervisord.conf was not written"
        [[ $(supervisord_pid "$h") == "${s_before[i]}" ]] || fail "$h: supervisord restarted before the kill"
        tb "$h" 'test -s /etc/supervisord_tsupv.d/.hadeploy-pending.json' || fail "$h: no restart recorded"
        i=$((i + 1))
    done
    ok "killed between write and restart: supervisord.conf written, supervisord not restarted, the restart recorded"
    # The next deploy finds every file in place, and restarts supervisord.
    hd web deploy web/app.yml
    i=0
    for h in "${HOSTS[@]}"; do
        s=$(supervisord_pid "$h")
        [[ -n $s && $s != "${s_before[i]}" ]] || fail "$h: supervisord pid '${s_before[i]}' -> '$s' (expected a restart)"
        [[ $(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$(addr_of "$h"):9001/" || true) == 401 ]] ||
            fail "$h: the web interface of the new supervisord.conf does not answer"
        tb "$h" 'test ! -e /etc/supervisord_tsupv.d/.hadeploy-pending.json' || fail "$h: the journal was not cleared"
        check_running "$h"
        i=$((i + 1))
    done
    hd web deploy web/app.yml
    no_change "the deploy after"
    ok "the next deploy restarted supervisord with its new configuration, and the one after changed nothing"
}

scenario_17_check_mode() {
    local h
    # A host with nothing of the application: --check --diff says what a
    # deploy would do, and does nothing.
    hd web remove web/app.yml
    hd simple deploy simple/app.yml -- --check --diff
    for h in "${HOSTS[@]}"; do
        [[ $(recap_field "$h" changed) -gt 0 ]] || fail "$h: --check on a fresh host reports no change"
        if tb "$h" 'id tsup || ls /etc/supervisord_tsupv.conf /opt/tsup' >/dev/null 2>&1; then
            fail "$h: --check created something of the application"
        fi
    done
    ok "--check --diff on fresh hosts: changes reported, nothing created"

    # A deployed host and a changed file: the diff shows it, nothing moves.
    hd notify deploy notify/app.yml
    local p_before=() p i=0
    for h in "${HOSTS[@]}"; do p_before+=("$(program1_pid "$h")"); done
    sed -i -E 's/Hello( \(v[0-9]\))? from/Hello (v4) from/' "$FIX/templates/program1.sh"
    hd notify deploy notify/app.yml -- --check --diff
    grep -q '^+.*Hello (v4) from' "$LAST_LOG" || fail "the --diff does not show program1.sh's new line"
    for h in "${HOSTS[@]}"; do
        [[ $(recap_field "$h" changed) -gt 0 ]] || fail "$h: --check reports no change for program1.sh"
        tb "$h" 'grep -q "Hello (v4) from" /opt/tsup/program1.sh' && fail "$h: --check wrote program1.sh"
        p=$(program1_pid "$h")
        [[ $p == "${p_before[i]}" ]] || fail "$h: --check restarted program1 ('${p_before[i]}' -> '$p')"
        tb "$h" 'test ! -e /etc/supervisord_tsupv.d/.hadeploy-pending.json' || fail "$h: --check recorded a restart"
        i=$((i + 1))
    done
    ok "--check --diff on deployed hosts: program1.sh's change shown, nothing written or restarted"
}

# An estate's own playbook and inventory, with the collection of a
# generated project installed by ansible-galaxy: the inventory has one more
# host (nothing answers at its address), which the play does not target.
scenario_18_estate() {
    local dir=$WORK/estate h p_before=() p i=0
    hd notify remove notify/app.yml
    mkdir -p "$dir"
    run_log estate-generate "$HADEPLOY" generate "${VARS[@]}" --src "$FIX/estate/app.yml" --out "$dir/shop"
    ((HD_RC == 0)) || fail "hadeploy generate exited with $HD_RC"
    run_log estate-build "$VENV/bin/ansible-galaxy" collection build --output-path "$dir/build" \
        "$dir/shop/collections/ansible_collections/hadeploy/supervisor"
    ((HD_RC == 0)) || fail "ansible-galaxy collection build exited with $HD_RC"
    run_log estate-install "$VENV/bin/ansible-galaxy" collection install -p "$dir/collections" \
        "$dir"/build/hadeploy-supervisor-*.tar.gz
    ((HD_RC == 0)) || fail "ansible-galaxy collection install exited with $HD_RC"
    [[ -f $dir/collections/ansible_collections/hadeploy/supervisor/roles/hadeploy_supervisor/meta/argument_specs.yml ]] ||
        fail "the installed collection has no argument specs"
    ok "the collection builds and installs with ansible-galaxy"
    # The estate's own inventory: its groups (dc1, elsewhere) around the
    # group the description's scopes name (edges), a host it must not touch.
    cat >"$dir/inventory.yml" <<INVENTORY
all:
  children:
    dc1:
      children:
        edges:
          hosts:
            en1: { ansible_host: "$(addr_of en1)", ansible_user: root, ansible_ssh_private_key_file: "$HADEPLOY_TESTBED_KEY" }
            en2: { ansible_host: "$(addr_of en2)", ansible_user: root, ansible_ssh_private_key_file: "$HADEPLOY_TESTBED_KEY" }
    elsewhere:
      hosts:
        other1: { ansible_host: 192.0.2.1, ansible_user: root }
INVENTORY
    # The playbook as docs/generated-project.md writes it, then a play of the
    # estate's own: the description's variables did not land in it.
    awk '/^# site\.yml, beside your inventory$/ { on = 1; next } on && /^```/ { exit } on' \
        "$REPO/docs/generated-project.md" >"$dir/site.yml"
    grep -q 'hadeploy.supervisor.hadeploy_supervisor' "$dir/site.yml" ||
        fail "no playbook found in docs/generated-project.md: $(head -c 300 "$dir/site.yml")"
    cat >>"$dir/site.yml" <<'PLAYBOOK'

- name: The estate's own play, after
  hosts: edges
  gather_facts: false
  tasks:
    - name: The description's variables are not the estate's
      ansible.builtin.assert:
        that: [app is not defined, base is not defined, web is not defined]
PLAYBOOK
    estate() {
        run_log "estate-$1" env -C "$dir" ANSIBLE_COLLECTIONS_PATH="$dir/collections" \
            "$VENV/bin/ansible-playbook" -i inventory.yml site.yml "${@:2}"
    }
    estate deploy
    if ((HD_RC != 0)); then
        sed 's/^/    | /' "$LAST_LOG" | tail -n 40 >&2
        fail "the estate's playbook exited with $HD_RC"
    fi
    if grep -q 'other1' "$LAST_LOG"; then fail "the run went near other1"; fi
    for h in "${HOSTS[@]}"; do
        check_running "$h"
        p_before+=("$(program1_pid "$h")")
    done
    for h in "${HOSTS[@]}"; do
        [[ $(tb "$h" 'cat /opt/tsup/data/estate.conf') == *$'app=tsup\nbase=/opt/tsup\nport=8080' ]] ||
            fail "$h: estate.conf: $(tb "$h" 'ls -la /opt/tsup/data; cat /opt/tsup/data/estate.conf' 2>&1)"
    done
    ok "the playbook of docs/generated-project.md deploys, the description's vars in paths and templates, other1 untouched"
    estate again
    ((HD_RC == 0)) || fail "the second run exited with $HD_RC"
    no_change "the estate's second run"
    for h in "${HOSTS[@]}"; do
        p=$(program1_pid "$h")
        [[ $p == "${p_before[i]}" ]] || fail "$h: the second run restarted program1 ('${p_before[i]}' -> '$p')"
        i=$((i + 1))
    done
    ok "the second run: changed=0, program1 keeps its pid"

    # Misspelt inputs fail before anything is done, naming what is wrong.
    estate item-typo -e '{"hadeploy_base_users": [{"login": "tsup", "manged": true}]}'
    ((HD_RC != 0)) || fail "a misspelt item key passed"
    # The play's own first task reads the inputs; the roles' first checks them.
    grep -m1 '^TASK \[hadeploy\.supervisor\.' "$LAST_LOG" | grep -q 'Validating arguments against arg spec' ||
        fail "the roles' first task is not the argument check: $(grep -m1 '^TASK \[hadeploy' "$LAST_LOG")"
    grep -q 'manged' "$LAST_LOG" || fail "the error does not name manged"
    if grep -q '^changed:' "$LAST_LOG"; then fail "a task changed something before the error"; fi
    ok "a misspelt item key fails the first task, naming it"
    estate name-typo -e '{"hadeploy_supervisor_instaces": []}'
    ((HD_RC != 0)) || fail "a misspelt input name passed"
    grep -q '^fatal: .*hadeploy_supervisor_instaces is not an input of the role hadeploy_supervisor; did you mean hadeploy_supervisor_instances' \
        "$LAST_LOG" || fail "the error does not name the input meant"
    if grep -q '^changed:' "$LAST_LOG"; then fail "a task changed something before the error"; fi
    ok "a misspelt input name fails before any change, naming the input meant"
    estate other-version -e hadeploy_inputs_version=0.0.1
    ((HD_RC != 0)) || fail "inputs of another version passed"
    grep -q "^fatal: .*written by hadeploy 0.0.1, and this collection is hadeploy $("$HADEPLOY" --version | awk '{print $2}')'s" \
        "$LAST_LOG" || fail "the error does not name both versions: $(grep -m1 '^fatal' "$LAST_LOG")"
    if grep -q '^changed:' "$LAST_LOG"; then fail "a task changed something before the error"; fi
    ok "inputs of another hadeploy are refused before any change, naming both versions"
}

# The simple case as AWX runs it: ansible-runner, with a private data folder
# holding the generated project, the inventory, and the machine credential
# (user and ssh key) the runner gives; the description names neither.
scenario_19_ansible_runner() {
    local pd=$WORK/runner h
    hd simple remove simple/app.yml
    mkdir -p "$pd/inventory" "$pd/env"
    run_log runner-generate "$HADEPLOY" generate --src "en1_addr=$(addr_of en1)" --src "en2_addr=$(addr_of en2)" \
        --src "$FIX/runner/app.yml" --out "$pd/project"
    ((HD_RC == 0)) || fail "hadeploy generate exited with $HD_RC"
    if grep -Eq 'ansible_user|ansible_ssh_private_key_file|ansible_password' "$pd/project/inventory.yml"; then
        fail "the inventory names connection settings the description does not give"
    fi
    # The inventory as AWX would import it; the credential as the runner gives it.
    cp "$pd/project/inventory.yml" "$pd/inventory/hosts.yml"
    install -m 0600 "$HADEPLOY_TESTBED_KEY" "$pd/env/ssh_key"
    printf '%s\n' '-u root' >"$pd/env/cmdline"
    printf 'ANSIBLE_HOST_KEY_CHECKING: "False"\n' >"$pd/env/envvars"
    runner() {
        rm -rf "$pd/artifacts"
        run_log "runner-$1" env PATH="$VENV/bin:$PATH" "$VENV/bin/ansible-runner" run "$pd" -p "$1.yml"
    }
    runner deploy
    if ((HD_RC != 0)); then
        sed 's/^/    | /' "$LAST_LOG" | tail -n 40 >&2
        fail "ansible-runner run -p deploy.yml exited with $HD_RC"
    fi
    for h in "${HOSTS[@]}"; do check_running "$h"; done
    ok "ansible-runner deploys with the runner's inventory and credential"
    runner deploy
    ((HD_RC == 0)) || fail "the second ansible-runner run exited with $HD_RC"
    no_change "ansible-runner's second deploy"
    runner status
    ((HD_RC == 0)) || fail "ansible-runner run -p status.yml exited with $HD_RC"
    grep -q 'program1  RUNNING' "$LAST_LOG" || fail "status.yml does not show program1 RUNNING"
    ok "ansible-runner: second deploy changed=0, status shows program1 RUNNING"

    # Job slicing (AWX's, or several controllers): the project run at once
    # in two `--limit` slices, each with its own private data folder, does
    # what one run does.
    runner remove
    ((HD_RC == 0)) || fail "ansible-runner run -p remove.yml exited with $HD_RC"
    local slice pass pids=() rc
    for h in "${HOSTS[@]}"; do
        slice=$WORK/slice-$h
        rm -rf "$slice"
        mkdir -p "$slice"
        cp -r "$pd/inventory" "$pd/env" "$pd/project" "$slice/"
        printf '%s\n' "-u root --limit $h" >"$slice/env/cmdline"
    done
    for pass in first second; do
        pids=()
        for h in "${HOSTS[@]}"; do
            rm -rf "$WORK/slice-$h/artifacts"
            env PATH="$VENV/bin:$PATH" "$VENV/bin/ansible-runner" run "$WORK/slice-$h" -p deploy.yml \
                >"$LOGS/slice-$h-$pass.log" 2>&1 &
            pids+=($!)
        done
        for h in "${HOSTS[@]}"; do
            rc=0
            wait "${pids[0]}" || rc=$?
            pids=("${pids[@]:1}")
            ((rc == 0)) || { tail -n 40 "$LOGS/slice-$h-$pass.log" >&2; fail "the $pass slice of $h exited with $rc"; }
            # The slice worked on its host only.
            if grep -E '^en[0-9]+ +: ok=' "$LOGS/slice-$h-$pass.log" | grep -qv "^$h "; then
                fail "the slice of $h worked on another host"
            fi
            if [[ $pass == second ]]; then
                [[ $(recap_count "$LOGS/slice-$h-$pass.log" changed "$h") == 0 ]] ||
                    fail "$h: the second sliced deploy reports a change"
            fi
        done
        if [[ $pass == first ]]; then
            for h in "${HOSTS[@]}"; do check_running "$h"; done
        fi
    done
    ok "two --limit slices at once (${HOSTS[*]}) deploy as one run does; again, changed=0 on each"
}
# web's pid on host H, and when it started (clock ticks since the kernel
# booted: the test bed's hosts share one kernel, so these compare across hosts).
web_pid() { tb "$1" "pgrep -u tsup -f '^/usr/bin/python3 -m http.server 9180'" || true; }
started_at() { tb "$1" "cut -d' ' -f22 /proc/$2/stat"; }

scenario_20_rolling_deploy() {
    # Variables first: a description uses those given before it.
    local h pid before=() after=() at=() good=(www=/opt/tsup/www)
    local all=(en1 en2 en3)
    hd rolling deploy "${good[@]}" version=1 rolling/app.yml
    for h in "${all[@]}"; do
        before+=("$(web_pid "$h")")
        [[ -n ${before[-1]} ]] || fail "$h: web does not run after the first deploy"
    done
    ok "web runs on en1, en2, en3 (pids ${before[*]})"

    # A version whose health check fails (the folder it serves has no
    # `health`): en1 restarts it, it fails its check, the deploy ends there.
    HD_OPTS=(--rolling 1)
    hd_rc rolling deploy www=/opt/tsup/empty version=1 rolling/app.yml
    HD_OPTS=()
    ((HD_RC != 0)) || fail "the deploy of a version that fails its health check exited 0"
    grep -Eq '^fatal: \[en1\]: FAILED!' "$LAST_LOG" || { tail -n 40 "$LAST_LOG" >&2; fail "en1 is not reported failed"; }
    if ! grep -q 'Programs did not pass their health check:' "$LAST_LOG" ||
        ! grep -qF '==== tsupv web health check `http://127.0.0.1:9180/health` did not pass in 6 s (last: HTTP 404)' "$LAST_LOG" ||
        ! grep -q '"GET /health HTTP/1.1" 404' "$LAST_LOG"; then
        tail -n 40 "$LAST_LOG" >&2
        fail "the output does not name web's failed check with its log tail"
    fi
    grep -Eq '^en[23] ' "$LAST_LOG" && fail "en2 or en3 took part in the failed rolling deploy"
    grep -E 'fatal|health check|404' "$LAST_LOG" | cut -c1-200 | head -n 8 | sed 's/^/    | /' >&2
    [[ $(web_pid en1) != "${before[0]}" ]] || fail "en1: web was not restarted"
    for h in en2 en3; do
        [[ $(web_pid "$h") == "${before[${h#en} - 1]}" ]] || fail "$h: web's pid changed: the rollout went on"
        tb "$h" 'grep -q -- "--directory /opt/tsup/www" /etc/supervisord_tsupv.d/web_prg.ini' ||
            fail "$h: web's program file changed: the rollout went on"
    done
    ok "the failed check stops the rollout at en1; en2 and en3 keep web (same pids, same files)"

    # A good new version, one host at a time (the description's `rolling`).
    for h in "${all[@]}"; do before[${h#en} - 1]=$(web_pid "$h"); done
    hd rolling deploy "${good[@]}" version=2 rolling/app.yml rolling/rolling.yml
    for h in "${all[@]}"; do
        pid=$(web_pid "$h")
        [[ -n $pid && $pid != "${before[${h#en} - 1]}" ]] || fail "$h: web was not restarted (pid '$pid')"
        tb "$h" "tr '\\0' '\\n' </proc/$pid/environ" | grep -qx VERSION=2 || fail "$h: web does not run version 2"
        after+=("$pid")
        at+=("$(started_at "$h" "$pid")")
    done
    # Each host's web started after the one before had run its startsecs (2 s) and passed its check.
    ((at[1] - at[0] >= 200 && at[2] - at[1] >= 200)) ||
        fail "web did not restart host after host: start times ${at[*]} (clock ticks)"
    ok "version 2 rolls through en1, en2, en3 one at a time (start times ${at[*]} ticks apart by >= 2 s)"

    hd rolling deploy "${good[@]}" version=2 rolling/app.yml rolling/rolling.yml
    for h in "${all[@]}"; do
        [[ $(recap_field "$h" changed) == 0 ]] || fail "$h: the rerun reports changed=$(recap_field "$h" changed)"
        [[ $(web_pid "$h") == "${after[${h#en} - 1]}" ]] || fail "$h: the rerun restarted web"
    done
    ok "the rerun changes nothing, web keeps its pids"

    # `start` checks what it starts: en2's web no longer passes (its
    # `health` removed behind hadeploy's back), so start fails there, and
    # the next deploy (putting `health` back) restarts web and checks it.
    hd rolling stop "${good[@]}" version=2 rolling/app.yml
    tb en2 'rm /opt/tsup/www/health'
    hd_rc rolling start "${good[@]}" version=2 rolling/app.yml
    ((HD_RC != 0)) || fail "start exited 0 with en2's web failing its health check"
    if ! grep -Eq '^fatal: \[en2\]: FAILED!' "$LAST_LOG" || grep -Eq '^fatal: \[en[13]\]' "$LAST_LOG"; then
        tail -n 40 "$LAST_LOG" >&2
        fail "start does not fail on en2 alone"
    fi
    grep -qF 'health check `http://127.0.0.1:9180/health` did not pass' "$LAST_LOG" ||
        { tail -n 40 "$LAST_LOG" >&2; fail "start does not say web failed its health check"; }
    for h in "${all[@]}"; do [[ -n $(web_pid "$h") ]] || fail "$h: web does not run after start"; done
    pid=$(web_pid en2)
    hd rolling deploy "${good[@]}" version=2 rolling/app.yml
    [[ $(web_pid en2) != "$pid" ]] || fail "en2: the deploy did not restart web, whose check had failed"
    [[ $(recap_field en1 changed) == 0 && $(recap_field en3 changed) == 0 ]] ||
        fail "the deploy changed en1 or en3: changed=$(recap_field en1 changed), $(recap_field en3 changed)"
    ok "start fails on en2 with its failed check; the next deploy restores health, restarts web there and passes"

    # One program across the cluster: `restart --program web --rolling 1`
    # restarts web host after host, each healthy before the next; sleeper
    # and supervisord keep their pids.
    local desc=(version=2 rolling/app.yml rolling/sleeper.yml) sleepers=() daemons=()
    hd rolling deploy "${good[@]}" "${desc[@]}"
    before=() after=() at=()
    for h in "${all[@]}"; do
        before+=("$(web_pid "$h")")
        sleepers+=("$(sleeper_pid "$h")")
        daemons+=("$(supervisord_pid "$h")")
        [[ -n ${sleepers[-1]} && -n ${daemons[-1]} ]] || fail "$h: sleeper or supervisord does not run"
    done
    HD_OPTS=(--program web --rolling 1)
    hd rolling restart "${good[@]}" "${desc[@]}"
    HD_OPTS=()
    for h in "${all[@]}"; do
        pid=$(web_pid "$h")
        [[ -n $pid && $pid != "${before[${h#en} - 1]}" ]] || fail "$h: web was not restarted (pid '$pid')"
        at+=("$(started_at "$h" "$pid")")
        [[ $(sleeper_pid "$h") == "${sleepers[${h#en} - 1]}" ]] || fail "$h: sleeper was restarted too"
        [[ $(supervisord_pid "$h") == "${daemons[${h#en} - 1]}" ]] || fail "$h: supervisord was restarted"
    done
    ((at[1] - at[0] >= 200 && at[2] - at[1] >= 200)) ||
        fail "web did not restart host after host: start times ${at[*]} (clock ticks)"
    ok "restart --program web --rolling 1: web restarted host after host (start times ${at[*]}), sleeper and supervisord kept their pids"

    # stop and start by name: sleeper only; status --program reports it only.
    HD_OPTS=(--program sleeper)
    hd rolling stop "${good[@]}" "${desc[@]}"
    for h in "${all[@]}"; do
        [[ -z $(sleeper_pid "$h") ]] || fail "$h: sleeper still runs after stop --program sleeper"
        [[ -n $(web_pid "$h") && $(supervisord_pid "$h") == "${daemons[${h#en} - 1]}" ]] ||
            fail "$h: stop --program sleeper stopped web or supervisord"
    done
    report_json rolling status "${good[@]}" "${desc[@]}" -- --program sleeper
    python3 - "$REPORT_JSON" <<'PY' || fail "status --program sleeper does not report sleeper alone, stopped"
import json, sys
report = json.load(open(sys.argv[1]))
for host in ("en1", "en2", "en3"):
    programs = report[host]["supervisors"]["tsupv"]["programs"]
    assert list(programs) == ["sleeper"] and programs["sleeper"]["state"] == "STOPPED", (host, programs)
PY
    HD_OPTS=(--program sleeper)
    hd rolling start "${good[@]}" "${desc[@]}"
    HD_OPTS=()
    for h in "${all[@]}"; do [[ -n $(sleeper_pid "$h") ]] || fail "$h: sleeper does not run after start --program sleeper"; done
    ok "stop and start --program sleeper work on sleeper alone; status --program sleeper reports it alone"
    hd rolling remove "${good[@]}" "${desc[@]}"
}
sleeper_pid() { tb "$1" "pgrep -u tsup -fx '/bin/sleep 86409'" || true; }
# What root holds that a link could name: owner, group and mode of
# /etc/systemd/system, /root/.ssh, its authorized_keys and /etc/shadow, the
# checksum of the keys, and of /etc/shadow and the entries of
# /etc/systemd/system less what deploy and remove manage there themselves
# (tsup's line, the instance's unit).
root_targets() {
    tb "$1" 'stat -c "%U:%G %a %n" /etc/systemd/system /root/.ssh /root/.ssh/authorized_keys /etc/shadow;
             sha1sum /root/.ssh/authorized_keys; grep -v "^tsup:" /etc/shadow | sha1sum;
             find /etc/systemd/system -maxdepth 2 ! -name "supervisord_tsupv*" -printf "%u:%g %m %p\n" | sort | sha1sum'
}

# same_root_targets WHAT: what root holds on each host is as $BEFORE[i]
# recorded it.
same_root_targets() {
    local h i=0 now
    for h in "${HOSTS[@]}"; do
        now=$(root_targets "$h")
        [[ $now == "${BEFORE[i]}" ]] ||
            fail "$h: $1 changed what root holds: $(diff <(echo "${BEFORE[i]}") <(echo "$now") | tr '\n' ' ')"
        i=$((i + 1))
    done
}

# The application account plants links, in folders it owns, to what root
# holds: a deploy refuses the folder path that goes through one (naming
# it) and replaces the links where its own files and keys go, a dry run
# shows none of root's files, a remove takes the links away: root's files
# are as they were after each.
scenario_21_planted_links() {
    local h
    BEFORE=()
    hd simple remove simple/app.yml
    hd links deploy links/app.yml
    for h in "${HOSTS[@]}"; do
        BEFORE+=("$(root_targets "$h")")
        tb "$h" 'su -s /bin/sh tsup -c "
            mv /opt/tsup/data /opt/tsup/data.old && rm -rf ~/.ssh /opt/tsup/program1.sh &&
            ln -s /etc/systemd/system /opt/tsup/data &&
            ln -s /root/.ssh ~/.ssh &&
            ln -s /etc/shadow /opt/tsup/program1.sh"' || fail "$h: tsup could not plant its links"
    done
    ok "tsup planted links to /etc/systemd/system, /root/.ssh and /etc/shadow"

    local shadow
    shadow=$(tb en1 'head -n 1 /etc/shadow')
    hd_rc links deploy links/app.yml -- --check --diff
    grep -qF "$shadow" "$LAST_LOG" && fail "--check --diff printed /etc/shadow"
    same_root_targets "--check --diff"
    ok "--check --diff shows nothing of /etc/shadow and changes nothing"

    hd_rc links deploy links/app.yml
    ((HD_RC != 0)) || fail "a deploy through tsup's link /opt/tsup/data exited 0"
    grep -q '/opt/tsup/data/cache goes through the link data' "$LAST_LOG" ||
        fail "the deploy does not name the path that goes through a link"
    same_root_targets "the deploy"
    for h in "${HOSTS[@]}"; do
        tb "$h" 'test -d ~tsup/.ssh -a ! -L ~tsup/.ssh && grep -q . ~tsup/.ssh/authorized_keys' ||
            fail "$h: tsup's key is not in its own ~/.ssh"
    done
    ok "the deploy refuses /opt/tsup/data/cache, puts tsup's key in its own ~/.ssh, and root's files are as they were"

    hd links remove links/app.yml
    same_root_targets "the remove"
    for h in "${HOSTS[@]}"; do
        tb "$h" 'test ! -e /opt/tsup -a ! -L /opt/tsup' || fail "$h: /opt/tsup is left"
    done
    ok "remove takes the links away with /opt/tsup, root's files as they were"
}

# plan_json DESC FILE: hadeploy --action plan --format json for the fixture
# FILE; the document in $REPORT_JSON, the exit status in $HD_RC (0: no
# change, 2: changes, 1: error).
plan_json() {
    REPORT_JSON=$WORK/plan-$1.json
    # shellcheck disable=SC2016  # expanded by that shell
    logged "$1-plan" "hadeploy --src $2 --action plan --format json" sh -c '"$@" >"$0"' \
        "$REPORT_JSON" "$HADEPLOY" "${VARS[@]}" --src "$FIX/$2" --action plan --format json \
        --workingFolder "$WORK/project-$1"
}

# plan_rows HOST: each change of HOST's plan in $REPORT_JSON, one per line:
# ACTION KIND NAME (a program as SUPERVISOR/NAME).
plan_rows() {
    python3 - "$REPORT_JSON" "$1" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))[sys.argv[2]]["plan"]:
    name = "%s/%s" % (c["supervisor"], c["name"]) if c["kind"] == "program" else c["name"]
    print(c["action"], c["kind"], name)
PY
}

# What a deploy would change, per host, without changing it: everything on
# fresh hosts (exit 2), nothing after the deploy (exit 0), then a template's
# change: that file, with its diff, and the restart it notifies, nothing
# else, and the hosts as they were.
scenario_22_plan() {
    local h rows want diff p_before=() s_before=() i=0
    hd notify remove notify/app.yml
    plan_json notify notify/app.yml
    ((HD_RC == 2)) || fail "a plan on fresh hosts exited $HD_RC, not 2: $(tail -n 20 "$LAST_LOG")"
    for h in "${HOSTS[@]}"; do
        rows=$(plan_rows "$h")
        for want in "create user tsup" "create folder /opt/tsup" "create file /opt/tsup/program1.sh" \
            "create file /etc/supervisord_tsupv.conf" "create file /etc/supervisord_tsupv.d/program1_prg.ini" \
            "enable service supervisord_tsupv.service" "start service supervisord_tsupv.service" \
            "add program tsupv/program1"; do
            grep -qxF "$want" <<<"$rows" || fail "$h: the plan of a fresh host lacks '$want':"$'\n'"$rows"
        done
        if tb "$h" 'id tsup || ls /etc/supervisord_tsupv.conf /opt/tsup' >/dev/null 2>&1; then
            fail "$h: the plan created something of the application"
        fi
    done
    ok "fresh hosts: exit 2; the account, folder, files, service and program to add; nothing created"

    hd notify deploy notify/app.yml
    plan_json notify notify/app.yml
    ((HD_RC == 0)) || fail "a plan after a deploy exited $HD_RC, not 0: $(cat "$REPORT_JSON")"
    for h in "${HOSTS[@]}"; do
        rows=$(plan_rows "$h")
        [[ -z $rows ]] || fail "$h: the plan after a deploy lists:"$'\n'"$rows"
    done
    ok "after the deploy: exit 0, no change on ${HOSTS[*]}"

    for h in "${HOSTS[@]}"; do p_before+=("$(program1_pid "$h")"); s_before+=("$(supervisord_pid "$h")"); done
    sed -i -E 's/Hello( \(v[0-9]\))? from/Hello (v5) from/' "$FIX/templates/program1.sh"
    plan_json notify notify/app.yml
    ((HD_RC == 2)) || fail "a plan after a template change exited $HD_RC, not 2"
    for h in "${HOSTS[@]}"; do
        rows=$(plan_rows "$h")
        [[ $rows == $'change file /opt/tsup/program1.sh\nrestart program tsupv/program1' ]] ||
            fail "$h: the plan of a template change lists:"$'\n'"$rows"
        # Read whole first: grep -q stops reading at its match, and the
        # writer's broken pipe would fail the pipeline (pipefail).
        diff=$(json_at "$REPORT_JSON" "$h" plan 0 diff)
        grep -q '^+.*Hello (v5) from' <<<"$diff" ||
            fail "$h: the plan's diff does not show program1.sh's new line: $(json_at "$REPORT_JSON" "$h" plan 0)"
        [[ $(json_at "$REPORT_JSON" "$h" plan 1 why) == /opt/tsup/program1.sh ]] ||
            fail "$h: the restart's why: $(json_at "$REPORT_JSON" "$h" plan 1)"
        tb "$h" 'grep -q "Hello (v5) from" /opt/tsup/program1.sh' && fail "$h: the plan wrote program1.sh"
        tb "$h" 'test ! -e /etc/supervisord_tsupv.d/.hadeploy-pending.json' || fail "$h: the plan recorded a restart"
        [[ $(program1_pid "$h") == "${p_before[i]}" && $(supervisord_pid "$h") == "${s_before[i]}" ]] ||
            fail "$h: the plan restarted something"
        i=$((i + 1))
    done
    ok "a template change: that file (its diff) and program1's restart, on each host, nothing else; hosts unchanged"

    hd_rc notify plan notify/app.yml
    ((HD_RC == 2)) || fail "the plan's table exited $HD_RC, not 2"
    grep -qF '~ restart  program  tsupv/program1: /opt/tsup/program1.sh changes' "$LAST_LOG" ||
        fail "the plan's table does not say why program1 restarts: $(tail -n 20 "$LAST_LOG")"
    hd notify deploy notify/app.yml
    plan_json notify notify/app.yml
    ((HD_RC == 0)) || fail "a plan after deploying the change exited $HD_RC, not 0"
    ok "the table says why; deployed, the plan is empty again"
}

# ---------------------------------------------------------------------------

# HADEPLOY_E2E_ONLY: the scenario numbers to run (all when empty).
read -r -a ONLY <<<"${HADEPLOY_E2E_ONLY:-}"
for n in "${ONLY[@]}"; do
    if ! [[ $n =~ ^[1-9][0-9]*$ ]] || ! declare -F | grep -q " scenario_${n}_"; then
        log "HADEPLOY_E2E_ONLY: no scenario $n"; exit 2
    fi
done
wanted() {
    local n
    ((${#ONLY[@]} == 0)) && return 0
    for n in "${ONLY[@]}"; do [[ $1 == scenario_${n}_* ]] && return 0; done
    return 1
}

run_scenario() {
    local fn=$1 title=$2 t0 rc=0
    if ! wanted "$fn"; then
        RESULTS+=("SKIP       -    $title")
        return 0
    fi
    echo
    echo "==================== $title ===================="
    t0=$(now)
    set +e
    ( set -e; "$fn" )
    rc=$?
    set -e
    local took
    took=$(since "$t0")
    if ((rc == 0)); then
        PASSED=$((PASSED + 1))
        echo "PASS: $title ($took s)"
        RESULTS+=("PASS  $(printf '%6s' "$took") s  $title")
    else
        FAILED=$((FAILED + 1))
        echo "FAIL: $title ($took s)"
        RESULTS+=("FAIL  $(printf '%6s' "$took") s  $title")
    fi
}

run_scenario scenario_1_simple_deploy      "1. simple case: deploy, processes, supervisorctl_tsupv"
run_scenario scenario_2_redeploy_no_change "2. second deploy: changed=0, program1 keeps its pid"
run_scenario scenario_3_notify_restart     "3. notify: changed program1.sh restarts program1 only"
run_scenario scenario_4_web_interface      "4. web interface: 401, admin:admin, {SHA} password, not in --diff"
run_scenario scenario_5_stop_start_status  "5. stop, start, status"
run_scenario scenario_6_nonroot_split      "6. non-root split: init.yml as root, app.yml as tsup"
run_scenario scenario_7_remove             "7. remove: nothing left"
run_scenario scenario_8_rich               "8. rich: two supervisors, group, numprocs, stopped, environment, notify"
run_scenario scenario_9_supervisord_killed "9. fault: supervisord killed, next deploy converges"
run_scenario scenario_10_program_crashes   "10. fault: a program crashes at start, deploy fails, fix converges"
run_scenario scenario_11_host_unreachable  "11. fault: en2 unreachable, deploy fails naming it, back after up"
run_scenario scenario_12_exit_on_fail      "12. fault: en2 unreachable, exit_on_fail yes stops en1, no deploys it"
run_scenario scenario_13_interrupted_deploy "13. fault: deploys interrupted (SIGINT, SIGTERM), the next converges"
run_scenario scenario_14_other_user        "14. permissions: another user cannot use the instance's socket"
run_scenario scenario_15_hadeploy_forms    "15. HADeploy's forms: quoted environment, %(ENV_PATH)s, \${port + 1}"
run_scenario scenario_16_pending_restarts  "16. restarts kept: --scope files, deploy killed between write and restart"
run_scenario scenario_17_check_mode        "17. --check --diff: fresh hosts and a changed file, nothing changes"
run_scenario scenario_18_estate            "18. estate: the doc's playbook, its inventory, the collection installed, vars, typos refused"
run_scenario scenario_19_ansible_runner    "19. ansible-runner: its inventory and credential, as AWX runs it; two --limit slices at once"
run_scenario scenario_20_rolling_deploy    "20. rolling deploy on 3 hosts: a failed health check stops at en1, a good one rolls through; start checks too; restart --program web rolls alone"
run_scenario scenario_21_planted_links     "21. links the application account plants: root follows none"
run_scenario scenario_22_plan              "22. plan: everything on fresh hosts (2), nothing after a deploy (0), a template change and its restart"
