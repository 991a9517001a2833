#!/usr/bin/env bash
# The whole test suite from a fresh clone: makes .venv, installs Forge with its dev extras from the
# configured package indexes, then lint, type-check and every test (hermetic and real-package ones).
# As root, the suite also runs a second time as an unprivileged user, in parallel
# (scripts/test-unprivileged.sh; FORGE_TEST_UNPRIVILEGED=0 turns that off).
set -euo pipefail
cd "$(dirname "$0")/.."
# The activation tests run real zsh and fish: install them once, quietly, when root and missing (CI).
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null && ! { command -v zsh && command -v fish; } >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zsh fish; } >/dev/null 2>&1 ||
        echo "warning: could not install zsh and fish; their activation tests will be skipped" >&2
fi
PY=${FORGE_TEST_PYTHON:-$(command -v python3.11 || command -v python3)}

UNPRIV_PID=
if [ "$(id -u)" = 0 ] && [ "${FORGE_TEST_UNPRIVILEGED:-1}" != 0 ]; then
    UNPRIV_LOG=$(mktemp /tmp/forge-unprivileged-log.XXXXXX)
    setsid bash scripts/test-unprivileged.sh "$@" >"$UNPRIV_LOG" 2>&1 &
    UNPRIV_PID=$!
    # stop it (its whole process group) if this run ends early
    trap '[ -z "$UNPRIV_PID" ] || kill -- "-$UNPRIV_PID" 2>/dev/null || true; rm -f "$UNPRIV_LOG"' EXIT
fi

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
# A real pip 26 beside the machine's pip 23, for the side-by-side tests of pip 26's options.
if [ -z "${FORGE_TEST_PIP26:-}" ]; then
    if { [ -x .venv-pip26/bin/pip ] || "$PY" -m venv .venv-pip26; } &&
        .venv-pip26/bin/python -m pip install -q --disable-pip-version-check 'pip>=26' >/dev/null 2>&1; then
        export FORGE_TEST_PIP26=$PWD/.venv-pip26/bin/pip
    else
        echo "warning: could not install pip>=26; its side-by-side tests will be skipped" >&2
    fi
fi
.venv/bin/ruff check forge_store forge_pip tests bench
.venv/bin/ruff format --check forge_store forge_pip tests bench
.venv/bin/mypy
# The core checks under every Python minor of docs/compatibility-matrix.json that is installed,
# beside the tests (about a minute; FORGE_TEST_COMPAT=0 turns it off).
COMPAT_PID=
if [ "${FORGE_TEST_COMPAT:-1}" != 0 ]; then
    COMPAT_LOG=$(mktemp /tmp/forge-compat-log.XXXXXX)
    .venv/bin/python scripts/compat_matrix.py >"$COMPAT_LOG" 2>&1 &
    COMPAT_PID=$!
fi
rc=0
.venv/bin/python -m pytest -n 2 --dist loadgroup --durations=20 "$@" || rc=$?
if [ -n "$COMPAT_PID" ]; then
    crc=0
    wait "$COMPAT_PID" || crc=$?
    echo "---- compatibility matrix (scripts/compat_matrix.py, exit $crc) ----"
    cat "$COMPAT_LOG"
    rm -f "$COMPAT_LOG"
    [ "$rc" != 0 ] || rc=$crc
fi

if [ -n "$UNPRIV_PID" ]; then
    urc=0
    wait "$UNPRIV_PID" || urc=$?
    UNPRIV_PID=
    echo "---- the same tests as an unprivileged user (scripts/test-unprivileged.sh, exit $urc) ----"
    cat "$UNPRIV_LOG"
    rm -f "$UNPRIV_LOG"
    [ "$rc" != 0 ] || rc=$urc
fi
exit "$rc"
