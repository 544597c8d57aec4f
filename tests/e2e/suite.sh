#!/usr/bin/env bash
# End-to-end suite: deploys the user story's descriptions (tests/e2e/fixtures/,
# adapted copies of tests/fixtures/seed/) with the real hadeploy binary and
# ansible-playbook onto the test bed hosts en1 and en2 (testbed.sh), and checks
# the result from outside over ssh and http, as a user would.
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
#   HADEPLOY_E2E_HOSTS  the two test bed hosts to use (default "en1 en2")
#   HADEPLOY_E2E_KEEP   1: keep the work folder (generated projects, logs) even on success
#   CI                  set (and not "false"/"0"): never skip
#   plus the HADEPLOY_TESTBED_* variables of testbed.sh

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TESTBED=$HERE/testbed.sh
# The descriptions name their hosts en1 and en2 (as in the user story); they
# run on these two test bed hosts (e.g. "en5 en6" beside another user of the
# test bed).
read -r -a TB_HOSTS <<<"${HADEPLOY_E2E_HOSTS:-en1 en2}"
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

((${#TB_HOSTS[@]} == 2)) || { echo "suite: HADEPLOY_E2E_HOSTS must name two hosts" >&2; exit 2; }
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
    # Ansible's ssh connection masters (ControlPersist) of this run.
    local sock
    for sock in "$WORK"/cp/*; do
        [[ -S $sock ]] && ssh -o ControlPath="$sock" -O exit dummy >/dev/null 2>&1 || true
    done
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

# Ansible refuses to run without a UTF-8 locale.
export LANG=${LANG:-C.UTF-8} LC_ALL=${LC_ALL:-C.UTF-8}

VENV=${HADEPLOY_VENV:-/var/tmp/hadeploy-venv}
if [[ ! -x $VENV/bin/ansible-playbook ]]; then
    log "no ansible-playbook in $VENV: running tests/setup-venv.sh"
    HADEPLOY_VENV=$VENV bash "$REPO/tests/setup-venv.sh"
fi
export HADEPLOY_ANSIBLE_PLAYBOOK=$VENV/bin/ansible-playbook

if [[ -n ${HADEPLOY_BIN:-} ]]; then
    HADEPLOY=$HADEPLOY_BIN
else
    log "building hadeploy (cargo build --release -p hadeploy)"
    (cd "$REPO" && cargo build --quiet --release -p hadeploy)
    HADEPLOY=${CARGO_TARGET_DIR:-$REPO/target}/release/hadeploy
fi
[[ -x $HADEPLOY ]] || { log "no hadeploy binary at $HADEPLOY"; exit 1; }

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
tb_host() { [[ $1 == en1 ]] && echo "${TB_HOSTS[0]}" || echo "${TB_HOSTS[1]}"; }
addr_of() { local v; v=HADEPLOY_TESTBED_$(tb_host "$1" | tr '[:lower:]' '[:upper:]')_ADDR; echo "${!v}"; }

# ---------------------------------------------------------------------------
# Fixtures: copied, so that a scenario can edit a template; keys generated.

FIX=$WORK/fixtures
cp -r "$HERE/fixtures" "$FIX"
mkdir -p "$WORK/keys"
ssh-keygen -q -t ed25519 -N '' -C tsup@hadeploy-e2e -f "$WORK/keys/tsup_id"
TSUP_KEY=$WORK/keys/tsup_id

# Variables every fixture may use, given before the description files.
VARS=(--src "en1_addr=$(addr_of en1)" --src "en2_addr=$(addr_of en2)"
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
# hd DESC ACTION [FILES...]: hadeploy --src FILES --action ACTION, with its own
# working folder per description; output in $LAST_LOG, shown on failure.
hd() {
    local desc=$1 action=$2 f srcs=()
    shift 2
    for f in "$@"; do srcs+=(--src "$FIX/$f"); done
    local n
    n=$(find "$LOGS" -name '*.log' | wc -l)
    LAST_LOG=$LOGS/$(printf '%02d' "$((n + 1))")-$desc-$action.log
    local t0 rc=0
    t0=$(now)
    "$HADEPLOY" "${VARS[@]}" "${srcs[@]}" --action "$action" \
        --workingFolder "$WORK/project-$desc" >"$LAST_LOG" 2>&1 || rc=$?
    log "  hadeploy --src $* --action $action: exit $rc ($(since "$t0") s, log $LAST_LOG)"
    if ((rc != 0)); then
        sed 's/^/    | /' "$LAST_LOG" | tail -n 60 >&2
        fail "hadeploy $action of $* exited with $rc"
    fi
}

# recap_changed HOST: the changed= count of HOST in the PLAY RECAP of $LAST_LOG.
recap_changed() {
    awk -v h="$1" '/^PLAY RECAP/ { r = 1; next }
        r && $1 == h { for (i = 2; i <= NF; i++) if ($i ~ /^changed=/) { sub(/changed=/, "", $i); print $i } }' \
        "$LAST_LOG"
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
        c=$(recap_changed "$h")
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
    hd web deploy web/app.yml
    log "  (PLAY RECAP changed: en1=$(recap_changed en1) en2=$(recap_changed en2))"
    local h addr code page conf
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
    hd web status web/app.yml
    for h in "${HOSTS[@]}"; do
        # The task's output for HOST: from "ok: [HOST]" to the closing brace.
        local block
        block=$(awk -v h="$h" 'index($0, "ok: [" h "] => (item=tsupv)") == 1 { p = 1 } p { print } p && /^}/ { exit }' "$LAST_LOG")
        grep -q 'supervisor tsupv' <<<"$block" || fail "$h: status output has no tsupv:"$'\n'"$(cat "$LAST_LOG")"
        grep -Eq 'program1 +RUNNING' <<<"$block" || fail "$h: status output has no program1 RUNNING:"$'\n'"$block"
        ok "$h: status shows tsupv and program1 RUNNING"
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

run_scenario() {
    local fn=$1 title=$2 t0 rc=0
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
run_scenario scenario_4_web_interface      "4. web interface: 401, admin:admin, {SHA} password"
run_scenario scenario_5_stop_start_status  "5. stop, start, status"
run_scenario scenario_6_nonroot_split      "6. non-root split: init.yml as root, app.yml as tsup"
run_scenario scenario_7_remove             "7. remove: nothing left"
