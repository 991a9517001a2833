"""Console/gui script launchers and shebangs for an env's interpreter.

Byte-for-byte what ``installer.scripts.Script.generate(python, "posix")`` writes (a test checks
that), without importing ``installer`` on the warm install path (16 ms).
"""

from __future__ import annotations

import shlex

_TEMPLATE = """\
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {import_name}
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit({func_path}())
"""


def shebang(python: str) -> bytes:
    """``#!python``, or a ``/bin/sh`` trampoline when the path has spaces or is too long."""
    raw = python.encode()
    if b" " not in raw and len(raw) + 3 <= 127:
        return b"#!" + raw
    return b"#!/bin/sh\n'''exec' " + shlex.quote(python).encode() + b' "$0" "$@"\n' + b"' '''"


def launcher(python: str, module: str, attr: str) -> bytes:
    code = _TEMPLATE.format(module=module, import_name=attr.split(".")[0], func_path=attr)
    return shebang(python) + b"\n" + code.encode()


def fix_shebang(data: bytes, python: str) -> bytes:
    """Point a ``.data/scripts`` file's ``#!python`` line at ``python`` (as pip/installer do)."""
    if not data.startswith(b"#!python"):
        return data
    first, _, rest = data.partition(b"\n")
    return shebang(python) + first[len(b"#!python") :] + b"\n" + rest
