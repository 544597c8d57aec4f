#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, unit, snapshot and
# property tests, then the end-to-end suite on real hosts. Prints its wall
# time at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

# Set-up, so that this is all a fresh machine needs (tests/setup.sh): the
# system's tools, the Python venv the checks of generated projects and the
# roles' module use, first on the PATH, and cargo-insta.
bash tests/setup.sh
venv=${HADEPLOY_VENV:-/var/tmp/hadeploy-venv}
export PATH="$venv/bin:$PATH"

cargo fmt --all -- --check
# Every shell script of the suite and of CI.
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck -x .ci/run tests/*.sh tests/e2e/*.sh packaging/*.sh
elif [ -n "${CI:-}" ]; then
  echo "CI must provide shellcheck (.ci/run installs it)" >&2
  exit 1
else
  echo "SKIPPED: shellcheck is not installed" >&2
fi
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
# A snapshot that changed, or one no test refers to any more, fails the run.
CI=true cargo insta test --workspace --check --unreferenced reject

# The roles' own module, against a real supervisord (pytest from the venv).
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/module

# The collection as one publishes it: ansible-test sanity, Galaxy's
# importer, an execution environment's build context.
bash tests/collection.sh

# The wheel and the Debian package, built and installed as users do
# (installs cargo-deb when missing).
bash tests/packaging.sh

# Real hosts: deploys the user story on systemd-nspawn containers. Needs root;
# skipped with a message where it cannot run, never when CI is set.
bash tests/e2e/suite.sh

echo "test suite: $(( $(date +%s) - start )) s"
