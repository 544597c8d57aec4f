# shellcheck shell=bash
# Sourced by the test bed's runners (suite.sh, bench-deploy.sh, demo.sh):
# finds the tools they drive. Expects REPO (the repository) and a function
# say (prints a progress line); sets:
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
