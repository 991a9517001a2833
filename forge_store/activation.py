"""Shell code that activates a Forge env, shaped like a venv's own ``bin/activate`` scripts.

It sets ``VIRTUAL_ENV``, ``VIRTUAL_ENV_PROMPT``, ``FORGE_ENV``, ``PATH`` and the prompt (``PS1``, or
``fish_prompt`` in fish), unsets ``PYTHONHOME``, and defines ``deactivate``, which restores all of them.
The saved values use CPython's names (``_OLD_VIRTUAL_PATH``, ``_OLD_VIRTUAL_PS1``, ...), so
switching between a Forge env and a plain venv in one shell restores what the first one saved.

It never exports ``PYTHONPATH``: the env's interpreter stacks its layers by itself (its start-up
hook), and a ``PYTHONPATH`` would hand the env's cp3XY packages, and its ``forge_pip`` launcher
module, to every other interpreter started from that shell. :func:`layered_pythonpath` gives the
value to tools that really want it, for one command.

The same text is written to ``ENV/bin/activate`` (bash, zsh, POSIX sh) and ``ENV/bin/activate.fish``
and printed by ``forge activate``. Every value is quoted for its shell, so an env path may hold
spaces, quotes, ``$`` or backslashes.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

SHELLS = ("bash", "zsh", "fish")

_POSIX = """\
# Forge env {name_c}: `eval "$(forge activate {name_c})"`, or `. ENV/bin/activate` (bash, zsh, sh).
# Sets VIRTUAL_ENV, PATH and the prompt, never PYTHONPATH; `deactivate` restores them.
deactivate () {{
    if [ -n "${{_OLD_VIRTUAL_PATH+set}}" ]; then
        PATH="$_OLD_VIRTUAL_PATH"
        export PATH
        unset _OLD_VIRTUAL_PATH
    fi
    if [ -n "${{_OLD_VIRTUAL_PYTHONHOME:-}}" ]; then
        PYTHONHOME="$_OLD_VIRTUAL_PYTHONHOME"
        export PYTHONHOME
        unset _OLD_VIRTUAL_PYTHONHOME
    fi
    if [ -n "${{_OLD_VIRTUAL_PS1+set}}" ]; then
        PS1="$_OLD_VIRTUAL_PS1"
        export PS1
        unset _OLD_VIRTUAL_PS1
    fi
    if [ -n "${{_FORGE_PS1_UNSET:-}}" ]; then
        unset PS1 _FORGE_PS1_UNSET
    fi
    unset VIRTUAL_ENV VIRTUAL_ENV_PROMPT FORGE_ENV
    hash -r 2>/dev/null
    if [ "${{1:-}}" != nondestructive ]; then
        unset -f deactivate
    fi
}}
deactivate nondestructive
VIRTUAL_ENV={path_q}
export VIRTUAL_ENV
VIRTUAL_ENV_PROMPT={prompt_q}
export VIRTUAL_ENV_PROMPT
FORGE_ENV={name_q}
export FORGE_ENV
_OLD_VIRTUAL_PATH="$PATH"
PATH="$VIRTUAL_ENV/bin:$PATH"
export PATH
if [ -n "${{PYTHONHOME:-}}" ]; then
    _OLD_VIRTUAL_PYTHONHOME="$PYTHONHOME"
    unset PYTHONHOME
fi
if [ -z "${{VIRTUAL_ENV_DISABLE_PROMPT:-}}" ]; then
    if [ -n "${{PS1+set}}" ]; then
        _OLD_VIRTUAL_PS1="$PS1"
    else
        _FORGE_PS1_UNSET=1
    fi
    PS1={ps1_q}"${{PS1:-}}"
    export PS1
fi
hash -r 2>/dev/null
"""

_FISH = """\
# Forge env {name_c}: `forge activate {name_c} --shell fish | source`, or `source ENV/bin/activate.fish`.
# Sets VIRTUAL_ENV, PATH and the prompt, never PYTHONPATH; `deactivate` restores them.
function deactivate -d "Leave the Forge env"
    if set -q _OLD_VIRTUAL_PATH
        set -gx PATH $_OLD_VIRTUAL_PATH
        set -e _OLD_VIRTUAL_PATH
    end
    if set -q _OLD_VIRTUAL_PYTHONHOME
        set -gx PYTHONHOME $_OLD_VIRTUAL_PYTHONHOME
        set -e _OLD_VIRTUAL_PYTHONHOME
    end
    if set -q _OLD_FISH_PROMPT_OVERRIDE
        set -e _OLD_FISH_PROMPT_OVERRIDE
        functions -e fish_prompt
        if functions -q _old_fish_prompt
            functions -c _old_fish_prompt fish_prompt
            functions -e _old_fish_prompt
        end
    end
    set -e VIRTUAL_ENV
    set -e VIRTUAL_ENV_PROMPT
    set -e FORGE_ENV
    if test "$argv[1]" != nondestructive
        functions -e deactivate
    end
end
deactivate nondestructive
set -gx VIRTUAL_ENV {path_f}
set -gx VIRTUAL_ENV_PROMPT {prompt_f}
set -gx FORGE_ENV {name_f}
set -gx _OLD_VIRTUAL_PATH $PATH
set -gx PATH "$VIRTUAL_ENV/bin" $PATH
if set -q PYTHONHOME
    set -gx _OLD_VIRTUAL_PYTHONHOME $PYTHONHOME
    set -e PYTHONHOME
end
if test -z "$VIRTUAL_ENV_DISABLE_PROMPT"
    if functions -q fish_prompt
        functions -c fish_prompt _old_fish_prompt
    end
    function fish_prompt
        set -l old_status $status
        printf "%s(%s)%s " (set_color 4B8BBE) {prompt_f} (set_color normal)
        echo "exit $old_status" | source
        if functions -q _old_fish_prompt
            _old_fish_prompt
        end
    end
    set -gx _OLD_FISH_PROMPT_OVERRIDE "$VIRTUAL_ENV"
end
"""


def fish_quote(value: str) -> str:
    """A fish single-quoted word: inside ``'...'`` fish still reads ``\\\\`` and ``\\'``."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _comment(text: str) -> str:
    """``text`` safe inside a one-line comment (a newline would end the comment and run the rest)."""
    return "".join(c if c.isprintable() else "?" for c in text)


def detect_shell(environ: Mapping[str, str] | None = None) -> str:
    """The shell to write code for: ``$SHELL``'s basename when it is one we know, else ``bash``
    (whose code is POSIX sh, so it also serves sh and dash)."""
    name = os.path.basename((environ if environ is not None else os.environ).get("SHELL", ""))
    return name if name in SHELLS else "bash"


def activate_script(*, name: str, path: Path, shell: str, prompt: str | None = None) -> str:
    """Deterministic activation code for the env ``name`` at ``path`` in ``shell``."""
    if shell not in SHELLS:
        raise ValueError(f"unknown shell {shell!r}")
    prompt = name if prompt is None else prompt
    if shell == "fish":
        return _FISH.format(
            name_c=_comment(name),
            path_f=fish_quote(str(path)),
            prompt_f=fish_quote(prompt),
            name_f=fish_quote(name),
        )
    return _POSIX.format(
        name_c=_comment(name),
        path_q=shlex.quote(str(path)),
        prompt_q=shlex.quote(prompt),
        name_q=shlex.quote(name),
        ps1_q=shlex.quote(f"({prompt}) "),
    )


def layered_pythonpath(site_layers: Sequence[Path]) -> str:
    """The env's stack as a ``PYTHONPATH`` value, LOCAL first, for a tool that starts another
    interpreter of the env's version without its ``bin/python`` (``forge activate --pythonpath``)."""
    return os.pathsep.join(str(p) for p in site_layers)
