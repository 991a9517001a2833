#!/usr/bin/env bash
# Install Forge from this clone and run its main job end to end, on the defaults:
# make an env, install a real package into it from the configured package index, use it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${FORGE_PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
FORGE=.venv/bin/forge
ENV_NAME=${1:-demo}
PACKAGE=${2:-requests}
"$FORGE" envs --json >/dev/null
if ! "$FORGE" envs --json | .venv/bin/python -c "import json,sys; sys.exit(0 if any(e['name']=='$ENV_NAME' for e in json.load(sys.stdin)['envs']) else 1)"; then
    "$FORGE" create "$ENV_NAME"
fi
"$FORGE" pip install --env "$ENV_NAME" "$PACKAGE"
"$FORGE" list --env "$ENV_NAME"
ENV_PY=$("$FORGE" envs --json | .venv/bin/python -c "import json,sys; print([e for e in json.load(sys.stdin)['envs'] if e['name']=='$ENV_NAME'][0]['path'] + '/bin/python')")
"$ENV_PY" -c "import importlib.metadata as m, sys; d = m.distribution(sys.argv[1]); print(f'{d.metadata[\"Name\"]} {d.version} imported from a Forge env')" "$PACKAGE"
echo "next: eval \"\$($FORGE activate $ENV_NAME)\""
