#!/usr/bin/env bash
# Smoke check of the test bed: boots en1 and en2, reaches them with Ansible
# and ssh, checks what the end-to-end tests rely on, and always tears down.
#
#   tests/e2e/smoke.sh            exit 0 = pass, 77 = test bed unusable here (skip)
#
# Environment:
#   HADEPLOY_VENV   virtualenv with ansible-core (default /var/tmp/hadeploy-venv;
#                   created with "python3 -m venv" + "pip install ansible-core")
#   plus the HADEPLOY_TESTBED_* variables of testbed.sh

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TESTBED=$HERE/testbed.sh

# Become a child subreaper first: the nspawn processes that "testbed.sh up"
# leaves running are then re-parented to this script, which reaps them when
# "down" stops them. Otherwise, where PID 1 reaps orphans late or never, each
# one lingers as a zombie after "down".
if [[ $(id -u) -ne 0 ]]; then
    echo "smoke: SKIP: must run as root (the test bed needs namespaces and systemd-nspawn)" >&2
    exit 77
fi
if [[ -z ${HADEPLOY_TESTBED_SUBREAPER:-} ]]; then
    export HADEPLOY_TESTBED_SUBREAPER=1
    exec "$TESTBED" subreaper bash "${BASH_SOURCE[0]}" "$@"
fi

VENV=${HADEPLOY_VENV:-/var/tmp/hadeploy-venv}
HOSTS=(en1 en2)
START=$(date +%s.%N)
WORK=$(mktemp -d /tmp/hadeploy-smoke.XXXXXX)
UP_ATTEMPTED=0

log() { printf 'smoke: %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

finish() {
    local rc=$?
    trap - EXIT INT TERM
    if ((UP_ATTEMPTED)); then
        # Only our hosts: others may be in use by someone else.
        "$TESTBED" down "${HOSTS[@]}" || { log "teardown failed"; rc=1; }
    fi
    rm -rf "$WORK"
    local wall
    wall=$(awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    case $rc in
        0) log "PASS (wall time ${wall} s)" ;;
        77) log "SKIPPED: test bed cannot run on this machine (wall time ${wall} s)" ;;
        *) log "FAILED with status $rc (wall time ${wall} s)" ;;
    esac
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Ansible refuses to run without a UTF-8 locale.
export LANG=${LANG:-C.UTF-8} LC_ALL=${LC_ALL:-C.UTF-8}

# The venv may be shared with other tools (e.g. ansible-lint): never delete
# it, only create it or add ansible-core to it.
ensure_venv() {
    if [[ -x $VENV/bin/ansible && -x $VENV/bin/ansible-playbook ]] &&
       "$VENV/bin/ansible" --version >/dev/null 2>&1; then
        return 0
    fi
    if [[ ! -x $VENV/bin/python3 ]]; then
        log "creating $VENV"
        python3 -m venv "$VENV"
    fi
    log "installing ansible-core into $VENV"
    "$VENV/bin/python3" -m pip install -q --disable-pip-version-check ansible-core \
        >"$WORK/pip.log" 2>&1 || {
        tail -n 20 "$WORK/pip.log" >&2
        fail "pip install ansible-core failed"
    }
}

# Venv first: its pip download does not need the hosts.
ensure_venv
"$VENV/bin/ansible" --version >"$WORK/ansible-version.txt"
head -n 1 "$WORK/ansible-version.txt" >&2

rc=0
UP_ATTEMPTED=1
"$TESTBED" up "${HOSTS[@]}" || rc=$?
((rc == 0)) || exit "$rc"
eval "$("$TESTBED" env)"

# The inventory a test would write: addresses, key, root, no host key checks
# (every boot of a fresh copy is a "new" host).
cat >"$WORK/inventory.ini" <<EOF
[testbed]
en1 ansible_host=$HADEPLOY_TESTBED_EN1_ADDR
en2 ansible_host=$HADEPLOY_TESTBED_EN2_ADDR

[testbed:vars]
ansible_user=root
ansible_ssh_private_key_file=$HADEPLOY_TESTBED_KEY
ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'
ansible_python_interpreter=/usr/bin/python3
EOF
export ANSIBLE_HOME=$WORK/ansible-home
export ANSIBLE_HOST_KEY_CHECKING=False
export ANSIBLE_NOCOLOR=1

log "ansible ping"
"$VENV/bin/ansible" -i "$WORK/inventory.ini" testbed -m ansible.builtin.ping ||
    fail "ansible ping failed"
log "ansible facts"
"$VENV/bin/ansible" -i "$WORK/inventory.ini" testbed -m ansible.builtin.setup \
    -a 'filter=ansible_default_ipv4,ansible_service_mgr,ansible_distribution_release' \
    >"$WORK/facts.txt" || { cat "$WORK/facts.txt" >&2; fail "ansible fact gathering failed"; }
grep -q '"ansible_service_mgr": "systemd"' "$WORK/facts.txt" ||
    { cat "$WORK/facts.txt" >&2; fail "ansible does not see systemd as service manager"; }

tb_ssh() { ssh -F "$HADEPLOY_TESTBED_SSH_CONFIG" "$@" </dev/null; }

for h in "${HOSTS[@]}"; do
    log "$h: checks over ssh"
    [[ $(tb_ssh "$h" hostname) == "$h" ]] || fail "$h: wrong hostname"
    state=$(tb_ssh "$h" 'timeout 60 systemctl is-system-running --wait' || true)
    case $state in
        running|degraded) ;;
        *) fail "$h: systemd state is '$state'" ;;
    esac
    [[ $state == running ]] || tb_ssh "$h" 'systemctl --failed --no-legend' >&2 || true
    tb_ssh "$h" 'test -x /usr/bin/supervisord' || fail "$h: /usr/bin/supervisord missing"
    enabled=$(tb_ssh "$h" 'systemctl is-enabled supervisor.service' || true)
    active=$(tb_ssh "$h" 'systemctl is-active supervisor.service' || true)
    [[ $enabled != enabled ]] || fail "$h: distro supervisor.service is enabled"
    [[ $active != active ]] || fail "$h: distro supervisor.service is active"
    tb_ssh "$h" 'pgrep -x supervisord' >/dev/null && fail "$h: a supervisord is running"
done

log "en1 -> en2 and en2 -> en1 (ssh port, by name)"
tb_ssh en1 'timeout 3 bash -c "</dev/tcp/en2/22"' || fail "en1 cannot reach en2:22"
tb_ssh en2 'timeout 3 bash -c "</dev/tcp/en1/22"' || fail "en2 cannot reach en1:22"

log "all checks passed"
