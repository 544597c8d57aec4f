#!/usr/bin/env bash
# Builds the two ways in for people who do not build from source, into
# dist/:
#   - a wheel carrying the hadeploy binary (maturin, bindings "bin", as ruff
#     ships its binary): `pip install dist/hadeploy-*.whl` into the venv of
#     ansible-core puts hadeploy on its PATH;
#   - a Debian package (cargo-deb): the binary, its man pages and bash, zsh
#     and fish completions where man and the shells look.
# Needs maturin (the test venv has it: tests/setup-venv.sh) and cargo-deb
# (`cargo install cargo-deb`); both versions are those CI installs.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${HADEPLOY_VENV:-/var/tmp/hadeploy-venv}
maturin=$(command -v maturin || echo "$venv/bin/maturin")
out=dist
mkdir -p "$out"
rm -f "$out"/hadeploy-*.whl "$out"/hadeploy_*.deb

# The wheel: maturin builds the binary itself (release profile).
"$maturin" build --release --locked --quiet --compatibility linux --out "$out" >&2

# Man pages and completions, from the binary's own clap structs.
cargo build --release --locked --quiet -p hadeploy
bin=${CARGO_TARGET_DIR:-target}/release/hadeploy
assets=packaging/generated
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" man >"$assets/man/hadeploy.1"
for sub in dump generate schema completions man; do
    "$bin" man "$sub" >"$assets/man/hadeploy-$sub.1"
done
"$bin" completions bash >"$assets/completions/hadeploy.bash"
"$bin" completions zsh >"$assets/completions/_hadeploy"
"$bin" completions fish >"$assets/completions/hadeploy.fish"
cargo deb --locked --no-build -p hadeploy --output "$out" >&2

ls "$out"/hadeploy-*.whl "$out"/hadeploy_*.deb
