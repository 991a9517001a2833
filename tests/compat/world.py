"""The package world both pips install from: wheels and sdists the tests build, on a loopback index.

Small on purpose, but with every shape the cases need: a dependency chain, a conflict to backtrack
over, an impossible pin, extras, markers, a yanked release, a pre-release, a Requires-Python no
interpreter meets, a metadata name that is not normalized, a console script, an sdist-only project
(built by an in-tree PEP 517 backend, so no build requirement is fetched), and a dependent that an
upgrade breaks.
"""

from __future__ import annotations

from pathlib import Path

from tests.build.build_support import make_project, make_sdist
from tests.support.index_server import LocalIndex
from tests.support.wheels import make_wheel


def build_world(root: Path) -> LocalIndex:
    src = root / "src"
    index = LocalIndex(root / "index")
    add = index.add
    add(make_wheel(src, "alpha", "1.0", requires=["beta>=1"]))
    add(make_wheel(src, "beta", "1.0"))
    add(make_wheel(src, "beta", "2.0"))
    add(make_wheel(src, "tool", "1.0"))
    add(make_wheel(src, "tool", "2.0", requires=["beta<2"]))
    add(make_wheel(src, "app", "1.0", requires=["tool", "beta>=2"]))
    add(make_wheel(src, "oldbeta", "1.0", requires=["beta<2"]))
    add(make_wheel(src, "fancy", "1.0", extras={"color": ["gamma"]}))
    add(make_wheel(src, "gamma", "1.0"))
    add(make_wheel(src, "gamma", "1.1"))
    add(
        make_wheel(
            src,
            "marked",
            "1.0",
            requires=['gamma; python_version >= "3"', 'never; sys_platform == "win32"'],
        )
    )
    add(make_wheel(src, "yank", "1.0"))
    add(make_wheel(src, "yank", "2.0"), yanked="broken")
    add(make_wheel(src, "prerel", "1.0"))
    add(make_wheel(src, "prerel", "2.0b1"))
    add(make_wheel(src, "future", "1.0"))
    add(make_wheel(src, "future", "2.0", requires_python=">=4"), requires_python=">=4")
    add(make_wheel(src, "Mixed_Case", "1.0", files={"mixed_case/__init__.py": ""}))
    add(make_wheel(src, "cli", "1.0", console_scripts={"cli-hello": "cli:main"}))
    add(make_wheel(src, "plat", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64", purelib=False))
    add(make_wheel(src, "plat", "1.0", tag="py3-none-any"))
    project = make_project(root / "tiny-src", name="tiny-pkg", version="1.0")
    add(make_sdist(project, root / "sdists"))
    index.write()
    return index
