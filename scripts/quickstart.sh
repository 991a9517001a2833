#!/usr/bin/env bash
# The README's first command, from a fresh clone: install Forge as a tool (scripts/install.sh: its
# own venv, `forge` linked into ~/.local/bin), then run its main job end to end on the defaults with
# that forge: make an env, install a real package into it from the configured package index, import
# it from the env's interpreter.
#
#   scripts/quickstart.sh [ENV [PACKAGE]]      (defaults: demo requests)
#
# Idempotent: an existing ENV is reused. FORGE_PYTHON, FORGE_BIN_DIR and XDG_DATA_HOME are
# scripts/install.sh's; FORGE_HOME picks where the envs and the store go (default ~/.local/share/forge).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -le 2 ] || { echo "quickstart.sh: error: usage: scripts/quickstart.sh [ENV [PACKAGE]]" >&2; exit 2; }
ENV_NAME=${1:-demo}
PACKAGE=${2:-requests}

bash scripts/install.sh
FORGE=${FORGE_BIN_DIR:-$HOME/.local/bin}/forge
TOOL_PY=${XDG_DATA_HOME:-$HOME/.local/share}/forge/venv/bin/python

# the env's path, from `forge envs --json` (nothing when there is no such env)
env_path() {
    "$FORGE" envs --json | "$TOOL_PY" -c 'import json, sys
print(next((e["path"] for e in json.load(sys.stdin)["envs"] if e["name"] == sys.argv[1]), ""))' "$ENV_NAME"
}
ENV_DIR=$(env_path)
if [ -z "$ENV_DIR" ]; then
    "$FORGE" create "$ENV_NAME"
    ENV_DIR=$(env_path)
fi
"$FORGE" pip install --env "$ENV_NAME" "$PACKAGE"
"$FORGE" list --env "$ENV_NAME"
# import it (its first top-level module) with the env's interpreter, as a user of the env would
"$ENV_DIR/bin/python" -c 'import importlib, importlib.metadata as m, sys
d = m.distribution(sys.argv[1])
name = d.metadata["Name"]
top = (d.read_text("top_level.txt") or name.replace("-", "_")).split()[0]
module = importlib.import_module(top)
print(f"{name} {d.version}: import {top} works in the env {sys.argv[2]} ({module.__file__})")' \
    "$PACKAGE" "$ENV_NAME"
echo "next: eval \"\$(forge activate $ENV_NAME)\"   (forge is $FORGE)"
