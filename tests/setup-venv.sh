#!/usr/bin/env bash
# The Python tools of the tests: ansible-core for --syntax-check and real
# runs, ansible-lint, supervisor (its config parser, and a real supervisord
# for the role module's tests), pytest, ansible-runner (how AWX runs
# playbooks, for the real-host suite), maturin (the wheel that
# packaging/build.sh builds) and vermin (the Python versions the module
# needs: down to RHEL 8's 3.6).
set -euo pipefail
venv=${HADEPLOY_VENV:-/var/tmp/hadeploy-venv}
want="ansible-core==2.19.14 ansible-lint==26.10.1 supervisor==4.3.0 pytest==9.2.0 ansible-runner==2.4.3 maturin==1.16.0 vermin==1.9.2"
stamp="$venv/.hadeploy-packages"
if [ -x "$venv/bin/python3" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python3 -m venv "$venv"
# shellcheck disable=SC2086 # the list is split on purpose
"$venv/bin/pip" install --quiet --disable-pip-version-check $want
echo "$want" > "$stamp"
