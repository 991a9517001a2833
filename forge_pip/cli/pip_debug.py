"""``pip debug``: the facts pip prints for a bug report, for the interpreter Forge acts on."""

from __future__ import annotations

import argparse
import locale
import os
import sys

WARNING = (
    "WARNING: This command is only meant for debugging. Do not use this with automation for parsing"
    " and getting these details, since the output and options of this command may change without notice."
)


def cmd_debug(ns: argparse.Namespace) -> int:
    from forge_pip.cli.pip import version_text
    from forge_pip.sources import target_python
    from forge_store import interpreters

    interp = interpreters.current()
    executable = sys.executable
    if ns.python is not None or ns.env is not None:
        from forge_pip.cli.target import open_target
        from forge_store.store import Store

        with Store() as store:
            env = open_target(ns, store)
            interp, executable = env.interpreter, str(env.python)
    print(WARNING, file=sys.stderr)
    markers = interp.marker_env()
    lines = [
        f"pip version: {version_text()}",
        f"sys.version: {markers.get('python_full_version', interp.full_version)}",
        f"sys.executable: {executable}",
        f"sys.getdefaultencoding: {sys.getdefaultencoding()}",
        f"sys.getfilesystemencoding: {sys.getfilesystemencoding()}",
        f"locale.getpreferredencoding: {locale.getpreferredencoding(False)}",
        f"sys.platform: {markers.get('sys_platform', sys.platform)}",
        "sys.implementation:",
        f"  name: {interp.implementation}",
        f"'cert' config value: {os.environ.get('PIP_CERT', 'Not specified')}",
        f"REQUESTS_CA_BUNDLE: {os.environ.get('REQUESTS_CA_BUNDLE')}",
        f"CURL_CA_BUNDLE: {os.environ.get('CURL_CA_BUNDLE')}",
    ]
    tags = [str(t) for t in target_python(interp).tags]
    lines.append(f"Compatible tags: {len(tags)}")
    lines.extend(f"  {t}" for t in (tags if ns.verbose else tags[:10]))
    if not ns.verbose and len(tags) > 10:
        lines.append("  ...\n[First 10 tags shown. Pass --verbose to show all.]")
    print("\n".join(lines))
    return 0
