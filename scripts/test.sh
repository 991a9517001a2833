#!/usr/bin/env bash
# The whole test suite from a fresh clone: makes .venv, installs Forge with its dev extras from the
# configured package indexes, then lint, type-check and every test (hermetic and real-package ones).
set -euo pipefail
cd "$(dirname "$0")/.."
# The activation tests run real zsh and fish: install them once, quietly, when root and missing (CI).
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null && ! { command -v zsh && command -v fish; } >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zsh fish; } >/dev/null 2>&1 ||
        echo "warning: could not install zsh and fish; their activation tests will be skipped" >&2
fi
PY=${FORGE_TEST_PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
.venv/bin/ruff check forge_store forge_pip tests bench
.venv/bin/ruff format --check forge_store forge_pip tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
