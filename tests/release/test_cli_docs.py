"""docs/cli.md is generated from the parsers (forge_pip.cli.docgen) and cannot go stale."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forge_pip.cli import docgen, pip_options
from forge_pip.cli.forge import _build_parser
from forge_pip.cli.pip import COMMANDS, SUMMARIES
from forge_store.errors import ExitCode
from forge_store.policy import EXIT_CODES

REPO = Path(__file__).resolve().parents[2]
CLI_MD = REPO / "docs" / "cli.md"


def _regenerate(columns: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-m", "forge_pip.cli.docgen"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
    )


def test_docs_cli_md_matches_the_parsers() -> None:
    """Regenerated in a fresh process: docs/cli.md must be exactly that."""
    result = _regenerate("80")
    assert result.returncode == 0, result.stderr
    current = CLI_MD.read_text(encoding="utf-8") if CLI_MD.is_file() else ""
    assert current == result.stdout, (
        f"docs/cli.md is stale (the parsers changed): regenerate it with `{sys.executable} -m"
        " forge_pip.cli.docgen --write` and commit it"
    )


@pytest.mark.parametrize("columns", ["20", "300"])
def test_output_does_not_depend_on_the_terminal_width(columns: str) -> None:
    narrow, wide = _regenerate("80"), _regenerate(columns)
    assert narrow.returncode == wide.returncode == 0
    assert narrow.stdout == wide.stdout


def test_check_mode_fails_on_a_stale_file_with_the_fix(tmp_path: Path) -> None:
    stale = tmp_path / "cli.md"
    stale.write_text(docgen.render().replace("--link-mode", "--lnk-mode"), encoding="utf-8")
    assert docgen.main(["--check", "--output", str(stale)]) == 1
    fresh = tmp_path / "fresh.md"
    assert docgen.main(["--write", "--output", str(fresh)]) == 0
    assert docgen.main(["--check", "--output", str(fresh)]) == 0
    assert fresh.read_text(encoding="utf-8") == docgen.render()


def _all_options(parser: argparse.ArgumentParser) -> set[str]:
    return {
        s
        for a in parser._actions
        if a.help is not argparse.SUPPRESS and not isinstance(a, argparse._SubParsersAction)
        for s in a.option_strings
        if s not in ("-h", "--help")
    }


def test_every_forge_command_and_option_is_documented() -> None:
    text = docgen.render()
    commands = list(docgen.walk(_build_parser()))
    assert {c.words for c in commands} >= {("create",), ("install",), ("env", "set"), ("doctor",), ("gc",)}
    for command in commands:
        if command.words == ("pip",):
            continue
        title = "forge " + " ".join(command.words)
        assert f"#### `{title}`" in text
        section = text.split(f"#### `{title}`", 1)[1].split("\n#### ", 1)[0]
        for option in _all_options(command.parser):
            assert option in section, f"{title}: {option} missing from docs/cli.md"
    for option in ("--enforce", "--enforce-profile", "--version"):
        assert f"`{option}" in text


def test_every_pip_command_and_option_is_documented() -> None:
    text = docgen.render()
    general = text.split("### General options (every command)", 1)[1].split("\n#### ", 1)[0]
    assert set(SUMMARIES) == set(COMMANDS)
    for name in COMMANDS:
        parser = pip_options.build_parser(name)
        section = text.split(f"#### `forge pip {name}`", 1)[1].split("\n#### ", 1)[0].split("\n## ", 1)[0]
        assert SUMMARIES[name] in section
        for option in _all_options(parser):
            assert option in section or option in general, f"forge pip {name}: {option} missing"


def test_a_new_flag_shows_up_without_touching_the_generator() -> None:
    """Other branches add flags and commands: the generator picks them up from the parsers."""

    def forge_with_more() -> argparse.ArgumentParser:
        parser = _build_parser()
        sub = docgen._subparsers(parser)
        assert sub is not None
        sub.choices["create"].add_argument(
            "--brand-new-flag", action="store_true", help="a flag from another branch"
        )
        p = sub.add_parser("changelog-test", help="a command from another branch")
        p.add_argument("--as-json", action="store_true", help="its flag")
        return parser

    def pip_with_more() -> dict[str, argparse.ArgumentParser]:
        parsers = docgen.pip_parsers()
        parsers["install"].add_argument("--pip-new-flag", action="store_true", help="Forge: another")
        return parsers

    text = docgen.render(forge=forge_with_more, pip=pip_with_more)
    create = text.split("#### `forge create`", 1)[1].split("\n#### ", 1)[0]
    assert "| `--brand-new-flag` | a flag from another branch |" in create
    assert "[`forge changelog-test`](#forge-changelog-test)" in text
    assert "#### `forge changelog-test`" in text and "`--as-json`" in text
    assert "`--pip-new-flag` | Forge: another" in text
    assert text != docgen.render()


def test_hidden_commands_stay_hidden_and_aliases_are_listed_once() -> None:
    def forge_with_more() -> argparse.ArgumentParser:
        parser = _build_parser()
        sub = docgen._subparsers(parser)
        assert sub is not None
        sub.add_parser("secret-cmd", help=argparse.SUPPRESS)
        sub.add_parser("store-test", aliases=["st-test"], help="a group with an alias")
        return parser

    text = docgen.render(forge=forge_with_more)
    assert "secret-cmd" not in text and "SUPPRESS" not in text
    assert text.count("#### `forge store-test`") == 1 and "#### `forge st-test`" not in text
    assert "a group with an alias (also: st-test)" in text


def test_exit_codes_are_all_listed() -> None:
    text = docgen.render().split("## Exit codes", 1)[1]
    for code in ExitCode:
        assert f"| {int(code)} | `{code.name}` | " in text
        assert not text.split(f"| {int(code)} | `{code.name}` | ", 1)[1].startswith(" |"), code
    for kind, enforce_code in EXIT_CODES.items():
        assert f"| {enforce_code} | `{kind.value}` |" in text


def test_json_schemas_are_linked_to_existing_headings() -> None:
    text = docgen.render()
    json_md = (REPO / "docs" / "json.md").read_text(encoding="utf-8")
    kinds = docgen.json_kinds(json_md)
    assert kinds["envs"] == "envs" and kinds["env set"] == "env-settings" and kinds["install"] == "install"
    for command, kind in kinds.items():
        section = text.split(f"#### `forge {command}`", 1)[1].split("\n#### ", 1)[0]
        assert f"[`{kind}` document](json.md#{kind})" in section
        assert f"\n## `{kind}`" in json_md


def test_internal_links_resolve() -> None:
    import re

    text = docgen.render()
    anchors = {docgen._anchor(h.replace("`", "")) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
    for target in re.findall(r"\]\(#([^)]+)\)", text):
        assert target in anchors, target
    for target in re.findall(r"\]\(([\w.-]+\.md)", text):
        assert (REPO / "docs" / target).is_file(), target


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _shape(parser: argparse.ArgumentParser) -> object:
    """Everything a parser parses and prints, nested commands included."""
    return (
        parser.format_help(),
        [(a.option_strings, a.dest, a.nargs, a.default, a.choices is not None) for a in parser._actions],
        {name: _shape(child) for name, child in _subparsers(parser).items()},
    )


def test_each_command_built_alone_is_the_command_of_the_whole_parser() -> None:
    """``forge CMD`` builds CMD's parser only: the same help, options, defaults and verbs as the
    full parser has for it."""
    os.environ.setdefault("COLUMNS", "100")
    full = _subparsers(_build_parser())
    assert len(full) > 10
    for name, parser in full.items():
        alone = _subparsers(_build_parser(name))
        assert name in alone, name
        assert _shape(alone[name]) == _shape(parser), name
        assert {n for n in alone if alone[n] is alone[name]} == {n for n in full if full[n] is parser}
