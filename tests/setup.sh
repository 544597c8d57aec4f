#!/usr/bin/env bash
# Everything the whole test suite needs on this machine, installed when it
# is missing, so that `bash tests/run.sh` is all a fresh machine needs (CI
# runs just that). As root with apt-get, the system's tools are installed;
# otherwise the one command that would install them is printed, and this
# fails. Then the Rust components, the Python venv (tests/setup-venv.sh)
# and cargo-insta. The real-host part installs nothing more (its hosts'
# image is built by tests/e2e/testbed.sh); the packaging part installs
# cargo-deb itself (tests/packaging.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# Peers of the tests (sudo's visudo checks the sudo rules written,
# OpenSSH's ssh-keygen the public keys accepted), shellcheck for the
# scripts, and the test bed's systemd-nspawn, debootstrap and ip.
need=()
[[ -x /usr/sbin/visudo ]] || need+=(sudo)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v systemd-nspawn >/dev/null 2>&1 || need+=(systemd-container)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if ((${#need[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ${need[*]}" >&2
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"; } >/dev/null
    else
        echo "setup: missing ${need[*]}; install them with:" >&2
        echo "  sudo apt-get install -y ${need[*]}" >&2
        exit 1
    fi
fi

if command -v rustup >/dev/null 2>&1; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
bash tests/setup-venv.sh
if ! cargo insta --version >/dev/null 2>&1; then
    cargo install cargo-insta --locked --quiet
fi
