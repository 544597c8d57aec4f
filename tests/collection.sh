#!/usr/bin/env bash
# The collection of a generated project as one could publish it:
#   - `ansible-test sanity` passes (every test of the venv's ansible-core);
#   - Galaxy's importer (galaxy-importer, with ansible-lint) accepts the
#     tarball `ansible-galaxy collection build` makes;
#   - `ansible-builder create` reads the project's
#     execution-environment/execution-environment.yml
#     and the build context holds the collection, installable from its
#     requirements.yml;
#   - the oldest ansible-core the collection claims (`requires_ansible`; the
#     rest of the tests run the venv's, the newest) runs the project's
#     deploy, stop and remove, in check mode, on this machine.
# The tools of the last three pin their own dependencies: they get venvs of
# their own (/var/tmp/hadeploy-publish-venv, /var/tmp/hadeploy-ansible-VERSION).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
venv=${HADEPLOY_VENV:-/var/tmp/hadeploy-venv}
publish=/var/tmp/hadeploy-publish-venv
want="galaxy-importer==0.4.44 ansible-builder==3.2.0"
WORK=$(mktemp -d /tmp/hadeploy-collection.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "collection: FAIL: $*" >&2; exit 1; }
ok() { echo "collection: ok: $*"; }

if [[ "$(cat "$publish/.hadeploy-packages" 2>/dev/null)" != "$want" ]]; then
    python3 -m venv "$publish"
    # shellcheck disable=SC2086 # the list is split on purpose
    "$publish/bin/pip" install --quiet --disable-pip-version-check $want
    echo "$want" >"$publish/.hadeploy-packages"
fi

cargo build --quiet --release -p hadeploy
(cd "$WORK" && "$REPO/target/release/hadeploy" generate --src "$REPO/tests/fixtures/seed/simple/app.yml" --out project >/dev/null)
collection=$WORK/project/collections/ansible_collections/hadeploy/supervisor

# ansible-test bootstraps pip in its venvs with a script it downloads;
# given one, it uses it (tests/get-pip.py).
at=$("$venv/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
pip_version=$(grep -o "pip='[0-9.]*'" "$at/_internal/python_requirements.py" | head -n 1 | cut -d "'" -f 2)
[[ -n $pip_version ]] || fail "cannot tell the pip version ansible-test bootstraps"
cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
[[ -f $cache ]] || install -D -m 0644 tests/get-pip.py "$cache"
(cd "$collection" && PATH="$venv/bin:$PATH" ansible-test sanity --venv --python 3.11 >"$WORK/sanity.log" 2>&1) ||
    fail "ansible-test sanity: $(grep -E '^(ERROR|FATAL)' "$WORK/sanity.log" | head -20)"
ok "ansible-test sanity: $(grep -c '^Running sanity test' "$WORK/sanity.log") tests pass"
rm -rf "$collection/tests/output"

"$venv/bin/ansible-galaxy" collection build --output-path "$WORK/build" "$collection" >/dev/null 2>&1
tarball=$(echo "$WORK"/build/hadeploy-supervisor-*.tar.gz)
printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\n' >"$WORK/importer.cfg"
(cd "$WORK" && GALAXY_IMPORTER_CONFIG=$WORK/importer.cfg PATH="$publish/bin:$PATH" \
    "$publish/bin/python" -m galaxy_importer.main "$tarball" >"$WORK/importer.log" 2>&1) ||
    fail "galaxy-importer: $(tail -20 "$WORK/importer.log")"
grep -q 'Importer processing completed successfully' "$WORK/importer.log" ||
    fail "galaxy-importer: $(tail -20 "$WORK/importer.log")"
ok "Galaxy's importer accepts $(basename "$tarball")"

(cd "$WORK/project/execution-environment" && "$publish/bin/ansible-builder" create -f execution-environment.yml --context "$WORK/ee" >/dev/null) ||
    fail "ansible-builder create refused execution-environment.yml"
(cd "$WORK/ee/_build" && "$venv/bin/ansible-galaxy" collection install -r requirements.yml -p "$WORK/ee-collections" >/dev/null 2>&1) ||
    fail "the execution environment's requirements.yml does not install the collection"
[[ -f $WORK/ee-collections/ansible_collections/hadeploy/supervisor/MANIFEST.json && -f $WORK/ee/_build/bindep.txt ]] ||
    fail "the execution environment's context lacks the collection or bindep.txt"
ok "ansible-builder reads execution-environment.yml; its context installs the collection"

oldest=$(sed -n 's/^requires_ansible: ">=\([0-9.]*\)"$/\1/p' "$collection/meta/runtime.yml")
[[ -n $oldest ]] || fail "meta/runtime.yml claims no lowest ansible-core"
old_venv=/var/tmp/hadeploy-ansible-$oldest
if [[ "$(cat "$old_venv/.hadeploy-packages" 2>/dev/null)" != "ansible-core~=$oldest" ]]; then
    python3 -m venv "$old_venv"
    "$old_venv/bin/pip" install --quiet --disable-pip-version-check "ansible-core~=$oldest"
    echo "ansible-core~=$oldest" >"$old_venv/.hadeploy-packages"
fi
version=$("$old_venv/bin/ansible-playbook" --version | sed -n '1s/.*core \([0-9.]*\)\]$/\1/p')
for playbook in deploy.yml stop.yml remove.yml; do
    (cd "$WORK/project" && "$old_venv/bin/ansible-playbook" "$playbook" --check -c local \
        -e "ansible_python_interpreter=$old_venv/bin/python" >"$WORK/oldest.log" 2>&1) ||
        fail "ansible-core $version: $playbook: $(grep -A6 -E '^(fatal|ERROR)' "$WORK/oldest.log" | head -20)"
done
ok "ansible-core $version, the oldest claimed: deploy, stop and remove run in check mode"
