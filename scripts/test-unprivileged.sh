#!/usr/bin/env bash
# The test suite again as an unprivileged user: root ignores file modes, and that hid bugs that
# broke every ordinary user (DESIGN.md section 8, "Root hides permission bugs").
#
# Run as root (scripts/test.sh does, in parallel with its own run); a no-op for anybody else,
# whose own run already is the unprivileged one. Creates the user (FORGE_TEST_USER, default
# forge-ci) if needed, copies the checkout to a world-readable temp dir (a fresh clone may sit in
# a root-only directory), makes a venv there from the system Python (FORGE_TEST_UNPRIVILEGED_PYTHON,
# default /usr/bin/python3.11: pyenv's under /root cannot be read by others), and runs pytest as
# that user with its own HOME, TMPDIR and FORGE_HOME. Arguments go to pytest (default: the whole
# suite; FORGE_TEST_UNPRIVILEGED_REAL=0 leaves the real-package tests out).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "test-unprivileged: already running as $(id -un): nothing to add"
    exit 0
fi
USER_NAME=${FORGE_TEST_USER:-forge-ci}
PY=${FORGE_TEST_UNPRIVILEGED_PYTHON:-/usr/bin/python3.11}
if [ ! -x "$PY" ]; then
    echo "test-unprivileged: $PY not found (set FORGE_TEST_UNPRIVILEGED_PYTHON)" >&2
    exit 1
fi
if ! id -u "$USER_NAME" >/dev/null 2>&1; then
    # another run may create it at the same moment: only a user that is still missing is an error
    useradd --create-home --shell /bin/bash "$USER_NAME" 2>/dev/null || id -u "$USER_NAME" >/dev/null
fi

WORK=$(mktemp -d /tmp/forge-unprivileged.XXXXXX)
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$WORK/repo" "$WORK/home" "$WORK/tmp"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$WORK/repo"
else
    tar --exclude=./.venv --exclude=./.git -cf - . | tar -xf - -C "$WORK/repo"
fi
if [ -d ../shared ]; then  # the design notes and bench pins some real-package tests read
    cp -r ../shared "$WORK/shared"
fi
chmod 755 "$WORK"
chown -R "$USER_NAME:" "$WORK"

if command -v setpriv >/dev/null; then
    SWITCH=(setpriv --reuid="$USER_NAME" --regid="$(id -g "$USER_NAME")" --init-groups)
else
    SWITCH=(runuser -u "$USER_NAME" --)
fi
as_user() {
    "${SWITCH[@]}" env -u VIRTUAL_ENV -u PYTHONPATH -u FORGE_ENV -u PYTHONHOME \
        HOME="$WORK/home" USER="$USER_NAME" LOGNAME="$USER_NAME" TMPDIR="$WORK/tmp" \
        FORGE_HOME="$WORK/home/forge" FORGE_TEST_CACHE="$WORK/home/.cache/forge-tests" \
        PATH="$WORK/repo/.venv/bin:/usr/local/bin:/usr/bin:/bin" "$@"
}

cd "$WORK/repo"
as_user "$PY" -m venv .venv
as_user .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
MARK=(-m "not real")
if [ "${FORGE_TEST_UNPRIVILEGED_REAL:-1}" = 1 ]; then
    MARK=()
fi
echo "test-unprivileged: pytest as $USER_NAME (uid $(id -u "$USER_NAME")) with $("$PY" -V)"
as_user .venv/bin/python -m pytest -p no:cacheprovider -q -n "${FORGE_TEST_UNPRIVILEGED_JOBS:-0}" \
    --dist loadgroup --durations=20 "${MARK[@]}" "$@"
