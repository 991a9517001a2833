#!/usr/bin/env bash
# The whole test suite from a fresh clone: makes .venv, installs Forge with its dev extras from the
# configured package indexes, then lint, type-check and every test (hermetic and real-package ones).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${FORGE_TEST_PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
.venv/bin/ruff check forge_store forge_pip tests bench
.venv/bin/ruff format --check forge_store forge_pip tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
