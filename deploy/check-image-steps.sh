#!/usr/bin/env bash
# Reproduce deploy/Dockerfile's install steps without Docker (no engine runs in CI):
# build the wheel, install it into a CLEAN virtualenv (no system site-packages, nothing from
# the development venv), then run the image's smoke test and a few more checks on the result.
#
#   deploy/check-image-steps.sh [PYTHON]        (default: python3)
#
# Each step below carries the same "STEP" name as in the Dockerfile; tests/unit/test_deploy.py
# checks that both run the same commands. Needs the package registry (PyPI) for dependencies.
set -euo pipefail
PYTHON="${1:-python3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/guichet-image-steps.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
DIST="$WORK/dist"
VENV="$WORK/opt/guichet"
SRC="$WORK/src"

echo "== context: the files the Dockerfile copies"
mkdir -p "$SRC"
cp "$ROOT/pyproject.toml" "$ROOT/README.md" "$SRC/"
for pkg in app bot chains devtools knowledge ops; do
    (cd "$ROOT" && tar --exclude=__pycache__ --exclude='*.pyc' -cf - "$pkg") | tar -xf - -C "$SRC"
done
cd "$SRC"

echo "== STEP wheel"
"$PYTHON" -m pip wheel --no-deps --wheel-dir "$DIST" .
echo "== STEP venv"
"$PYTHON" -m venv "$VENV"
echo "== STEP install"
# (the image adds --no-cache-dir to stay small; here pip's cache is welcome)
"$VENV/bin/pip" install "$DIST"/guichet-*.whl

echo "== STEP smoke"
export PATH="$VENV/bin:$PATH"
cd "$WORK"   # not the source tree: the installed package must be self-sufficient
guichet --help >/dev/null

echo "== extra checks on the installed package"
for cmd in run ingest; do
    guichet "$cmd" --help >/dev/null
done
"$VENV/bin/python" - <<'PY'
import pathlib
import sys

import app, bot, chains, knowledge, ops

for mod in (app, bot, chains, knowledge, ops):
    path = pathlib.Path(mod.__file__).resolve()
    assert "site-packages" in str(path), f"{mod.__name__} imported from {path}, not the wheel"
sample = pathlib.Path(knowledge.__file__).parent / "sample"
xml = list(sample.rglob("*.xml"))
assert xml, f"the wheel has no sample corpus in {sample}"
import app.wiring, ops.health, chains.answer, knowledge.store  # noqa: E401,F401
print(f"installed from the wheel: {len(xml)} sample fiches, python {sys.version.split()[0]}")
PY
echo "== OK: the image's install steps work in a clean venv"
