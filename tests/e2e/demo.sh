#!/usr/bin/env bash
# Demo: boots the test bed hosts en1 and en2 (testbed.sh), deploys the user
# story's simple case with its web interface on them (fixtures/web/app.yml:
# tests/fixtures/seed/simple/app.yml plus an http_server, host addresses and
# key given as --src variables), prints hadeploy's status, and leaves the
# hosts running so that you can look around. Run as root:
#
#   sudo tests/e2e/demo.sh
#
# Tear down when done:  tests/e2e/testbed.sh down en1 en2
#
# Running it again deploys again on the hosts as they are (nothing changes).
#
# Environment:
#   HADEPLOY_BIN         the hadeploy binary (default: built with
#                        "cargo build --release -p hadeploy", honouring CARGO_TARGET_DIR)
#   HADEPLOY_VENV        virtualenv with ansible-core (default /var/tmp/hadeploy-venv,
#                        created by tests/setup-venv.sh when missing)
#   HADEPLOY_DEMO_HOSTS  the two test bed hosts to use (default "en1 en2")
#   HADEPLOY_DEMO_DIR    generated project and logs (default /var/tmp/hadeploy-demo)

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TESTBED=$HERE/testbed.sh
read -r -a TB_HOSTS <<<"${HADEPLOY_DEMO_HOSTS:-en1 en2}"
DEMO_DIR=${HADEPLOY_DEMO_DIR:-/var/tmp/hadeploy-demo}
DESC=$HERE/fixtures/web/app.yml

say() { printf 'demo: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
# A path as the user can type it from where they are.
show_path() {
    local rel
    rel=$(realpath --relative-to="$PWD" "$1" 2>/dev/null) || rel=$1
    [[ $rel == ../* ]] && rel=$1
    echo "$rel"
}

((${#TB_HOSTS[@]} == 2)) || die "HADEPLOY_DEMO_HOSTS must name two hosts"
[[ $(id -u) -eq 0 ]] || die "run as root (the test bed needs namespaces and systemd-nspawn): sudo $0"

# shellcheck source=tests/e2e/lib.sh
source "$HERE/lib.sh"
find_tools || exit 1

# Every host boots with a new ssh host key: Ansible must not check it.
export ANSIBLE_HOST_KEY_CHECKING=False

say "booting ${TB_HOSTS[*]} (hosts already up are kept as they are)"
rc=0
"$TESTBED" up "${TB_HOSTS[@]}" || rc=$?
((rc == 77)) && { say "the test bed cannot run on this machine (see above)"; exit 77; }
((rc == 0)) || die "testbed.sh up failed ($rc)"
eval "$("$TESTBED" env)"
EN1_ADDR=$(tb_addr "${TB_HOSTS[0]}")
EN2_ADDR=$(tb_addr "${TB_HOSTS[1]}")

mkdir -p "$DEMO_DIR"
# The description names its hosts en1 and en2; they are the test bed's hosts
# through these variables.
HD=("$HADEPLOY" --src "en1_addr=$EN1_ADDR" --src "en2_addr=$EN2_ADDR"
    --src "root_key=$HADEPLOY_TESTBED_KEY" --src "$DESC" --workingFolder "$DEMO_DIR/project")

run() {   # ACTION: runs hadeploy, output in $DEMO_DIR/ACTION.log
    local log=$DEMO_DIR/$1.log rc=0
    say "hadeploy --action $1 (log: $log)"
    "${HD[@]}" --action "$1" >"$log" 2>&1 || rc=$?
    if ((rc != 0)); then
        tail -n 40 "$log" >&2
        die "hadeploy --action $1 exited with $rc (full log: $log)"
    fi
}

run deploy
recap "$DEMO_DIR/deploy.log"
echo
echo "==================== hadeploy --action status ===================="
say "hadeploy --action status (Ansible's output: $DEMO_DIR/status.log)"
"${HD[@]}" --action status 2>"$DEMO_DIR/status.log" || die "hadeploy --action status failed (log: $DEMO_DIR/status.log)"

code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 10 -u admin:admin "http://$EN1_ADDR:9001/" || true)
[[ $code == 200 ]] || say "warning: http://$EN1_ADDR:9001/ answered '$code' with admin:admin"

# "en1 (10.231.0.11)", or "en1 (test bed host en5, 10.231.0.15)".
where() { if [[ $1 == "$2" ]]; then echo "$1 ($3)"; else echo "$1 (test bed host $2, $3)"; fi; }
SUDO=
[[ -n ${SUDO_USER:-} ]] && SUDO='sudo '
SSH="${SUDO}ssh -F $HADEPLOY_TESTBED_SSH_CONFIG"
TB=$(show_path "$TESTBED")
cat <<EOF

==================== look around ====================
The simple case runs on $(where en1 "${TB_HOSTS[0]}" "$EN1_ADDR") and $(where en2 "${TB_HOSTS[1]}" "$EN2_ADDR"):
supervisord instance tsupv, run by user tsup, runs program1.

  $SSH ${TB_HOSTS[0]}                     # a root shell on en1
  $SSH ${TB_HOSTS[0]} sudo -u tsup supervisorctl_tsupv status
  $SSH ${TB_HOSTS[0]} sudo -u tsup supervisorctl_tsupv tail program1
  $SSH ${TB_HOSTS[0]} systemctl status supervisord_tsupv

Web interface (user admin, password admin), from this machine:

  http://$EN1_ADDR:9001/    http://$EN2_ADDR:9001/
  curl -u admin:admin http://$EN1_ADDR:9001/

  From another machine, tunnel it first: ssh -L 9001:$EN1_ADDR:9001 $(hostname), then http://localhost:9001/

The generated Ansible project is in $DEMO_DIR/project. hadeploy again
(status, stop, start, deploy, remove):

  ${SUDO}env ANSIBLE_HOST_KEY_CHECKING=False HADEPLOY_ANSIBLE_PLAYBOOK=$HADEPLOY_ANSIBLE_PLAYBOOK \\
    $HADEPLOY --src en1_addr=$EN1_ADDR --src en2_addr=$EN2_ADDR \\
    --src root_key=$HADEPLOY_TESTBED_KEY --src $(show_path "$DESC") \\
    --workingFolder $DEMO_DIR/project --action status

Tear down (the hosts stay up until then):

  ${SUDO}$TB down ${TB_HOSTS[*]}
EOF
