#!/usr/bin/env bash
# End-to-end check of the forge CLI in a temporary FORGE_HOME (nothing of yours is touched):
# create (a base and a child on top), settings, activate (eval'd in this bash), install of a wheel
# this script builds, the env's bin/pip and `python -m pip`, list, inspect, doctor, gc, remove.
#
#   bash scripts/smoke.sh [--python PY] [--forge FORGE]
#
# --python: the interpreter of the envs (default: Forge's own). --forge: the forge command to check
# (default: $FORGE_BIN, else this checkout's .venv/bin/forge, else `forge` on PATH; a path or a
# command name). With FORGE_SMOKE_PKG=NAME (say requests), also a real install and uninstall of NAME
# from the configured package index.
# Prints one line per step; on a failure, the step's output and `smoke: FAILED at step ...`, exit 1.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY_ARG=()
FORGE=${FORGE_BIN:-}
while [ $# -gt 0 ]; do
    case $1 in
    --python) PY_ARG=(--python "$2"); shift 2 ;;
    --forge) FORGE=$2; shift 2 ;;
    *) echo "smoke: error: unknown argument $1 (usage: smoke.sh [--python PY] [--forge FORGE])" >&2; exit 2 ;;
    esac
done
if [ -z "$FORGE" ]; then
    if [ -x "$ROOT/.venv/bin/forge" ]; then FORGE=$ROOT/.venv/bin/forge; else FORGE=$(command -v forge || true); fi
fi
WANTED=$FORGE
[ -z "$FORGE" ] || FORGE=$(command -v -- "$FORGE") || FORGE=
[ -n "$FORGE" ] && [ -x "$FORGE" ] || {
    echo "smoke: error: no forge command${WANTED:+ '$WANTED'} (use --forge FORGE or FORGE_BIN)" >&2
    exit 2
}
# Forge's own interpreter, from the console script: `#!/path/python`, or for a long path pip's
# /bin/sh trampoline, whose second line execs the interpreter. It builds the test wheels and cleans
# up the sealed FORGE_HOME.
forge_python() {
    local first second
    { IFS= read -r first; IFS= read -r second; } <"$FORGE" 2>/dev/null || true
    case $first in
    "#!/bin/sh"*) second=${second#*exec\' }; second=${second%% \"\$0\"*}; echo "${second//\'/}" ;;
    "#!/"*) first=${first#\#!}; echo "${first%% *}" ;;
    esac
}
FORGE_PY=$(forge_python)
if [ -z "$FORGE_PY" ] || ! "$FORGE_PY" -c "import forge_store" >/dev/null 2>&1; then
    FORGE_PY=$(command -v python3)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/forge-smoke.XXXXXX")
export FORGE_HOME=$WORK/home
unset FORGE_ENV VIRTUAL_ENV PYTHONPATH PYTHONHOME
cleanup() {
    # store entries are sealed (read-only, immutable dirs as root): Forge removes its own home
    "$FORGE_PY" -c 'import sys; from pathlib import Path; from forge_store.seal import remove_tree
remove_tree(Path(sys.argv[1]))' "$FORGE_HOME" >/dev/null 2>&1
    rm -rf "$WORK" 2>/dev/null || true
}
trap cleanup EXIT
LOG=$WORK/step.log
STEP=

fail() {
    echo "---- output of step '$STEP' ----" >&2
    cat "$LOG" >&2
    echo "smoke: FAILED at step '$STEP'${1:+: $1}" >&2
    exit 1
}
# step NAME CMD...: run CMD, quiet unless it fails
step() {
    STEP=$1
    shift
    "$@" >"$LOG" 2>&1 || fail "exit $? from: $*"
    echo "ok  $STEP"
}
# expect TEXT: the last step's output must contain TEXT
expect() {
    grep -qF -- "$1" "$LOG" || fail "its output lacks: $1"
}
env_path() {
    "$FORGE" envs --json | "$FORGE_PY" -c 'import json, sys
print(next(e["path"] for e in json.load(sys.stdin)["envs"] if e["name"] == sys.argv[1]))' "$1"
}

# Two small wheels, written the way a build backend would (RECORD with sha256 of every file)
WHEELS=$WORK/wheels
mkdir -p "$WHEELS"
step "build test wheels" "$FORGE_PY" - "$WHEELS" <<'PY'
import base64, hashlib, sys, zipfile
from pathlib import Path

def wheel(out, name, version, files, requires=()):
    dist = f"{name.replace('-', '_')}-{version}"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {**files, f"{dist}.dist-info/METADATA": meta,
             f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: smoke\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    with zipfile.ZipFile(Path(out) / f"{dist}-py3-none-any.whl", "w") as zf:
        for path, text in files.items():
            data = text.encode()
            zf.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{dist}.dist-info/RECORD,,")
        zf.writestr(f"{dist}.dist-info/RECORD", "\n".join(record) + "\n")

wheel(sys.argv[1], "smoke-base", "1.0", {"smoke_base/__init__.py": "VALUE = 'base'\n"})
wheel(sys.argv[1], "smoke-app", "2.0", {"smoke_app/__init__.py": "from smoke_base import VALUE\n"},
      requires=["smoke-base"])
print(*sorted(p.name for p in Path(sys.argv[1]).iterdir()))
PY
expect "smoke_app-2.0-py3-none-any.whl smoke_base-1.0-py3-none-any.whl"

step "forge --version" "$FORGE" --version
expect "forge "
step "create base" "$FORGE" create base "${PY_ARG[@]}"
expect "created env base"
step "install a wheel file into base" "$FORGE" install --env base "$WHEELS/smoke_base-1.0-py3-none-any.whl"
expect "smoke-base 1.0"
step "create app on top of base" "$FORGE" create app --parent base
expect "on top of base"
step "env set abi_policy" "$FORGE" env set app abi_policy warn_abi
step "env get abi_policy" "$FORGE" env get app abi_policy
expect "warn_abi"
APP=$(env_path app) || { STEP="find app's path"; fail; }
BASE=$(env_path base) || { STEP="find base's path"; fail; }

activate_check() {
    eval "$("$FORGE" activate app --shell bash)" || return 1
    [ "${VIRTUAL_ENV:-}" = "$APP" ] || { echo "VIRTUAL_ENV=${VIRTUAL_ENV:-} (want $APP)"; return 1; }
    [ "$(command -v python)" = "$APP/bin/python" ] || { echo "python is $(command -v python)"; return 1; }
    python -c "import smoke_base; assert smoke_base.VALUE == 'base'" || return 1  # from the parent layer
    deactivate
    [ -z "${VIRTUAL_ENV:-}" ] || { echo "deactivate left VIRTUAL_ENV=$VIRTUAL_ENV"; return 1; }
}
step "activate (eval in bash), use, deactivate" activate_check
step "bin/pip install from find-links" "$APP/bin/pip" install --no-index -f "$WHEELS" smoke-app
step "python -m pip list" "$APP/bin/python" -m pip list
expect "smoke-app"
step "import across layers" "$APP/bin/python" -c "import smoke_app; print(smoke_app.VALUE)"
expect "base"
step "forge list" "$FORGE" list --env app
expect "smoke-base"
step "forge inspect" "$FORGE" inspect smoke-app --env app --mode warn
step "forge inspect --json" "$FORGE" inspect smoke-app --env app --json
expect '"kind": "inspect"'
step "forge doctor" "$FORGE" doctor
step "forge doctor --json" "$FORGE" doctor --json
expect '"kind": "doctor"'
step "forge gc --dry-run (nothing unused)" "$FORGE" gc --dry-run
expect "would remove 0 entries"

if [ -n "${FORGE_SMOKE_PKG:-}" ]; then
    step "real install of $FORGE_SMOKE_PKG from the index" "$FORGE" pip install --env app "$FORGE_SMOKE_PKG"
    step "pip show $FORGE_SMOKE_PKG" "$APP/bin/python" -m pip show "$FORGE_SMOKE_PKG"
    step "real uninstall of $FORGE_SMOKE_PKG" "$FORGE" pip uninstall --env app -y "$FORGE_SMOKE_PKG"
    STEP="$FORGE_SMOKE_PKG is gone"
    if "$APP/bin/python" -m pip show "$FORGE_SMOKE_PKG" >"$LOG" 2>&1; then fail "pip show still finds it"; fi
    echo "ok  $STEP"
fi

step "uninstall from app" "$FORGE" uninstall --env app smoke-app
step "remove app" "$FORGE" remove app
step "gc collects what app used" "$FORGE" gc --grace 0
expect "removed: smoke-app 2.0"
step "base still works" "$BASE/bin/python" -c "import smoke_base"
step "forge doctor after gc" "$FORGE" doctor
echo "smoke: all steps passed ($("$FORGE" --version), envs on $("$BASE/bin/python" -V 2>&1))"
