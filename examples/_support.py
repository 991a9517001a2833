"""What the examples share: finding Forge, and the package index pip is configured with.

Not an example itself. Each example imports it first, so that running one from a checkout with an
interpreter that cannot import Forge says so in one line instead of a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forge_pip.install import IndexOptions

REPO = Path(__file__).resolve().parents[1]


def require_forge() -> None:
    """Make ``forge_store``/``forge_pip`` importable, or exit 2 with the command that works."""
    if (REPO / "forge_store" / "__init__.py").is_file() and str(REPO) not in sys.path:
        sys.path.insert(1, str(REPO))  # a checkout: its packages, with this interpreter's deps
    try:
        import forge_pip.install  # noqa: F401  (needs installer, packaging, resolvelib...)
        import forge_store  # noqa: F401
    except ImportError as exc:
        script = Path(sys.argv[0]).name
        print(
            f"error: {sys.executable} cannot import Forge ({exc}); run the example with the project's"
            f" interpreter: .venv/bin/python examples/{script} (set up: python3.11 -m venv .venv &&"
            ' .venv/bin/pip install -e ".[dev]"), or a venv where forge-runtime is installed',
            file=sys.stderr,
        )
        raise SystemExit(2) from None


def configured_index(command: str = "install") -> IndexOptions:
    """The indexes pip is configured with (pip.conf files and ``PIP_*`` variables, pip's precedence):
    ``index-url`` (default PyPI), ``extra-index-url``, ``find-links``, ``no-index``, ``trusted-host``,
    ``cert``, ``timeout``."""
    from forge_pip.config import load_pip_config
    from forge_pip.install import DEFAULT_INDEX, IndexOptions

    config = load_pip_config(command, os.environ)
    urls: tuple[str, ...] = ()
    if not config.get_bool("no-index"):
        urls = (config.get_str("index-url") or DEFAULT_INDEX, *config.get_list("extra-index-url"))
    timeout = config.get_float("timeout")
    return IndexOptions(
        index_urls=tuple(dict.fromkeys(urls)),
        find_links=tuple(dict.fromkeys(config.get_list("find-links"))),
        trusted_hosts=tuple(config.get_list("trusted-host")),
        cert=config.get_str("cert"),
        timeout=timeout if timeout is not None else 15.0,
    )


def describe(index: IndexOptions) -> str:
    """``index https://... + 2 extra, find-links /opt/wheels`` for the examples' first line."""
    parts = []
    if index.index_urls:
        extra = len(index.index_urls) - 1
        parts.append(f"index {index.index_urls[0]}" + (f" + {extra} extra" if extra else ""))
    if index.find_links:
        parts.append("find-links " + " ".join(index.find_links))
    return ", ".join(parts) or "no index (--no-index and no find-links)"
