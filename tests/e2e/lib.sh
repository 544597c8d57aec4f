# shellcheck shell=bash
# Sourced by the test bed's runners (suite.sh, bench-deploy.sh, demo.sh):
# what each of them needs. Expects REPO (the repository) and a function say
# (prints a progress line).
#
# find_tools finds the tools they drive; sets:
#   VENV        virtualenv with ansible-core (HADEPLOY_VENV, default
#               /var/tmp/hadeploy-venv; created by tests/setup-venv.sh when
#               it has no ansible-playbook)
#   HADEPLOY_ANSIBLE_PLAYBOOK  (exported) its ansible-playbook, for hadeploy
#   HADEPLOY    the hadeploy binary, absolute (HADEPLOY_BIN, or built with
#               "cargo build --release -p hadeploy", honouring CARGO_TARGET_DIR)
# and exports a UTF-8 locale, without which Ansible refuses to run.
# Returns 1, having said why, when there is no hadeploy binary.

find_tools() {
    export LANG=${LANG:-C.UTF-8} LC_ALL=${LC_ALL:-C.UTF-8}
    VENV=${HADEPLOY_VENV:-/var/tmp/hadeploy-venv}
    if [[ ! -x $VENV/bin/ansible-playbook ]]; then
        say "no ansible-playbook in $VENV: running tests/setup-venv.sh"
        HADEPLOY_VENV=$VENV bash "$REPO/tests/setup-venv.sh"
    fi
    export HADEPLOY_ANSIBLE_PLAYBOOK=$VENV/bin/ansible-playbook
    if [[ -n ${HADEPLOY_BIN:-} ]]; then
        HADEPLOY=$HADEPLOY_BIN
    else
        say "building hadeploy (cargo build --release -p hadeploy)"
        (cd "$REPO" && cargo build --quiet --release -p hadeploy)
        HADEPLOY=${CARGO_TARGET_DIR:-$REPO/target}/release/hadeploy
    fi
    [[ -x $HADEPLOY ]] || { say "no hadeploy binary at $HADEPLOY"; return 1; }
    HADEPLOY=$(realpath "$HADEPLOY")
}

# tb_addr HOST: the address of test bed host HOST (en1..en9), once
# `testbed.sh env` is evaluated.
tb_addr() {
    local v=HADEPLOY_TESTBED_${1^^}_ADDR
    [[ -n ${!v:-} ]] || { say "no address for test bed host '$1' (expected en1..en9)"; return 1; }
    echo "${!v}"
}

# Ansible's PLAY RECAP in the output LOG of a run.
# recap LOG: its lines.
recap() { sed -n '/^PLAY RECAP/,/^$/p' "$1" | sed '/^$/d'; }
# recap_count LOG FIELD [HOST]: FIELD's count (changed, failed, unreachable...)
# for HOST, or summed over every host; empty for a HOST the recap does not list.
recap_count() {
    awk -v f="$2" -v h="${3:-}" '/^PLAY RECAP/ { r = 1; next }
        r && NF && (h == "" || $1 == h) {
            seen = 1
            for (i = 2; i <= NF; i++) if (index($i, f "=") == 1) { sub(/^[a-z]*=/, "", $i); s += $i }
        }
        END { if (seen || h == "") print s + 0 }' "$1"
}

# close_masters DIR: closes the ssh connection masters (Ansible's
# ControlPersist) whose sockets are in DIR, so that no later run reuses one.
close_masters() {
    local sock
    for sock in "$1"/*; do
        if [[ -S $sock ]]; then ssh -o ControlPath="$sock" -O exit dummy >/dev/null 2>&1 || true; fi
    done
}
