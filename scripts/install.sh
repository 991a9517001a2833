#!/usr/bin/env bash
# Install Forge from this checkout as a tool, in its own venv, with `forge` linked onto PATH:
#
#   scripts/install.sh                      # first install, and every upgrade (git pull && scripts/install.sh)
#   scripts/install.sh --which-python       # only print the interpreter it would use
#
# The venv is ${XDG_DATA_HOME:-~/.local/share}/forge/venv, made with $FORGE_PYTHON if set, else the
# newest python3.X (3.10 or later) on PATH; the link is ~/.local/bin/forge ($FORGE_BIN_DIR). This
# checkout is installed as a built wheel (not editable: the checkout can move or change; run this
# again to upgrade). An upgrade reinstalls into the same venv, at the same path, because every
# Forge env's bin/pip, `python -m pip` and `python -m forge_pip` re-execute that venv's python.
# Idempotent. Prints one line: what it installed where, and whether the link is on PATH.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
VENV=$DATA/forge/venv
BIN_DIR=${FORGE_BIN_DIR:-$HOME/.local/bin}
LINK=$BIN_DIR/forge

die() {
    echo "install.sh: error: $*" >&2
    exit 1
}

# the interpreter's "major.minor" when it is Python 3.10 or later, else nothing
py_minor() {
    "$1" -c 'import sys; sys.version_info >= (3, 10) or sys.exit(1); print("%d.%d" % sys.version_info[:2])' \
        2>/dev/null
}

# the interpreter itself (not a pyenv shim or a wrapper in front of it)
real_exe() {
    "$1" -c 'import sys; print(sys.executable)'
}

pick_python() {
    if [ -n "${FORGE_PYTHON:-}" ]; then
        local exe
        exe=$(command -v -- "$FORGE_PYTHON") || die "FORGE_PYTHON=$FORGE_PYTHON: no such interpreter"
        py_minor "$exe" >/dev/null || die "FORGE_PYTHON=$FORGE_PYTHON is not Python 3.10 or later"
        real_exe "$exe"
        return
    fi
    local best="" best_minor=0 dir name minor
    local IFS=:
    for dir in $PATH; do
        for name in "${dir:-.}"/python3.*; do
            [[ $name =~ /python3\.([0-9]+)$ ]] && [ -x "$name" ] || continue
            minor=${BASH_REMATCH[1]}
            if [ "$minor" -ge 10 ] && [ "$minor" -gt "$best_minor" ] && py_minor "$name" >/dev/null; then
                best=$name best_minor=$minor
            fi
        done
    done
    [ -n "$best" ] || die "no python3.10 or later on PATH (set FORGE_PYTHON to one)"
    real_exe "$best"
}

if [ "${1:-}" = "--which-python" ]; then
    pick_python
    exit 0
fi
[ $# -eq 0 ] || die "unknown argument: $1 (usage: scripts/install.sh [--which-python])"

if [ -e "$LINK" ] && [ ! -L "$LINK" ]; then
    die "$LINK exists and is not a link (remove it, or set FORGE_BIN_DIR to another directory)"
fi

LOG=$(mktemp "${TMPDIR:-/tmp}/forge-install.XXXXXX")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/forge-install-wheel.XXXXXX")
trap 'rm -rf "$LOG" "$WORK"' EXIT
run() {  # quiet unless it fails: then its output, and the step
    if ! "$@" >>"$LOG" 2>&1; then
        tail -n 40 "$LOG" >&2
        die "failed: $*"
    fi
}

# Keep a working venv (an upgrade must not move it); make it when missing or broken, or when
# FORGE_PYTHON asks for another minor version (then in place: the path stays the same).
current=""
[ -x "$VENV/bin/python" ] && current=$(py_minor "$VENV/bin/python" || true)
if [ -z "$current" ] || [ -n "${FORGE_PYTHON:-}" ]; then
    PY=$(pick_python)
    want=$(py_minor "$PY")
    if [ "$current" != "$want" ]; then
        mkdir -p "$(dirname "$VENV")"
        run "$PY" -m venv --clear "$VENV"
    fi
fi
VPY=$VENV/bin/python

# Build this checkout into a wheel, then install it over whatever is there: first Forge itself,
# reinstalled even at an unchanged version (a checkout's code changes between commits), then its
# dependencies as the new wheel asks.
run "$VPY" -m pip wheel -q --disable-pip-version-check --no-deps -w "$WORK" "$SRC"
WHEEL=$(ls "$WORK"/forge_runtime-*.whl)
run "$VPY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"
run "$VPY" -m pip install -q --disable-pip-version-check "$WHEEL"
[ -x "$VENV/bin/forge" ] || die "$VENV/bin/forge is missing after the install"
VERSION=$("$VENV/bin/forge" --version) || die "$VENV/bin/forge does not run"

mkdir -p "$BIN_DIR"
if [ "$(readlink "$LINK" 2>/dev/null || true)" != "$VENV/bin/forge" ]; then
    ln -sfn "$VENV/bin/forge" "$LINK.tmp.$$"
    mv -Tf "$LINK.tmp.$$" "$LINK"
fi

case ":$PATH:" in
*":$BIN_DIR:"* | *":$BIN_DIR/:"*) where="on PATH" ;;
*) where="not on PATH: add  export PATH=\"$BIN_DIR:\$PATH\"  to your shell profile" ;;
esac
echo "$VERSION installed in $VENV ($("$VPY" -V 2>&1)); $LINK -> $VENV/bin/forge ($where)"
