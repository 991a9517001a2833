"""``docs/cli.md`` generated from the argparse parsers: ``python -m forge_pip.cli.docgen --write``.

Every ``forge`` command (nested verbs such as ``forge env set`` too), every ``forge pip`` /
``python -m forge_pip`` command with the options Forge accepts, the exit codes
(:class:`forge_store.errors.ExitCode`, :data:`forge_store.policy.EXIT_CODES`) and links to the
``--json`` schemas of ``docs/json.md``. The prose comes from the parsers' ``help``, ``description``
and ``epilog`` strings and from the comments on the exit-code enum members, so a flag another
branch adds shows up on the next run.

The output is deterministic: commands and options are sorted, nothing is wrapped at the
terminal's width (``COLUMNS`` plays no part), and no default that depends on the machine is
printed. ``--check`` exits 1 when the file differs from what the parsers give
(``tests/release/test_cli_docs.py`` runs it).
"""

from __future__ import annotations

import argparse
import enum
import inspect
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from forge_store.records import record

REGENERATE = "python -m forge_pip.cli.docgen --write"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
JSON_DOC = "json.md"  # relative to docs/
ENFORCEMENT_DOC = "enforcement.md"

_PIP_GENERAL = "General Options"
_FORGE_MARK = "Forge:"


@record(frozen=True, slots=True)
class Command:
    """One command of a parser tree: ``words`` after the program name, and its parser."""

    words: tuple[str, ...]
    parser: argparse.ArgumentParser
    summary: str


def _subparsers(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def walk(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> Iterator[Command]:
    """Every command under ``parser`` (depth first, sorted by name), verbs of verbs included.

    A command whose help is ``argparse.SUPPRESS`` is hidden, as in ``--help``; an alias
    (``add_parser(..., aliases=[...])``) is listed once, under its first name, with the others."""
    sub = _subparsers(parser)
    if sub is None:
        return
    summaries = {a.dest: a.help for a in sub._get_subactions()}
    names: dict[int, list[str]] = {}
    for name, child in sub.choices.items():
        names.setdefault(id(child), []).append(name)
    for name in sorted(sub.choices):
        child = sub.choices[name]
        first, *aliases = names[id(child)]
        summary = summaries.get(first)
        if name != first or summary == argparse.SUPPRESS:
            continue
        text = _one_line(summary)
        if aliases:
            text += (" " if text else "") + "(also: " + ", ".join(aliases) + ")"
        command = Command((*words, name), child, text)
        yield command
        yield from walk(child, command.words)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _md(text: str) -> str:
    """Prose for a table cell: one line, pipes escaped."""
    return _one_line(text).replace("|", "\\|")


def _metavar(action: argparse.Action) -> str:
    if action.metavar is not None:
        return str(action.metavar) if not isinstance(action.metavar, tuple) else " ".join(action.metavar)
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest.upper() if not action.option_strings else action.dest.upper().replace("-", "_")


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _synopsis(action: argparse.Action) -> str:
    """``--parent PARENT``, ``-v, --verbose``, ``NAME [NAME ...]``."""
    metavar = _metavar(action)
    if not action.option_strings:
        if action.nargs == "+":
            return f"{metavar} [{metavar} ...]"
        if action.nargs == "*":
            return f"[{metavar} ...]"
        if action.nargs == "?":
            return f"[{metavar}]"
        return metavar
    names = ", ".join(sorted(action.option_strings, key=lambda s: (s.startswith("--"), s)))
    return f"{names} {metavar}" if _takes_value(action) else names


def _help(action: argparse.Action) -> str:
    text = action.help or ""
    if "%" in text:
        try:
            text = text % {**vars(action), "prog": "", "default": action.default}
        except (KeyError, TypeError, ValueError):
            pass
    return _one_line(text)


def _default_note(action: argparse.Action) -> str:
    """``default: X`` for a value option whose default is a plain, machine-independent value."""
    if not action.option_strings or not _takes_value(action):
        return ""
    default = action.default
    if default is None or default is argparse.SUPPRESS or default in ([], {}, ""):
        return ""
    if isinstance(action, argparse._CountAction | argparse._AppendAction):
        return ""
    if not isinstance(default, str | int | float) or isinstance(default, bool):
        return ""
    if "default" in _help(action).lower():  # the help says it already
        return ""
    return f"default: `{default}`"


def _choices_note(action: argparse.Action) -> str:
    if action.choices is None or action.metavar is None:
        return ""  # the choices are the metavar already
    return "one of " + ", ".join(f"`{c}`" for c in action.choices)


def _notes(action: argparse.Action) -> str:
    parts = [_help(action), _choices_note(action), _default_note(action)]
    repeatable = isinstance(action, argparse._CountAction | argparse._AppendAction) or (
        action.option_strings and isinstance(action.default, list)
    )
    if repeatable and not re.search(r"repeat|counted", parts[0]):
        parts.append("repeatable")
    return _md("; ".join(p for p in parts if p))


def _sort_key(action: argparse.Action) -> tuple[str, str]:
    longs = [s for s in action.option_strings if s.startswith("--")]
    name = (longs or list(action.option_strings))[0]
    return (name.lstrip("-").lower(), name)


def _documented(actions: Sequence[argparse.Action]) -> list[argparse.Action]:
    return [
        a
        for a in actions
        if a.help is not argparse.SUPPRESS
        and not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
        and not a.dest.startswith("_global")
    ]


def _rows(actions: Sequence[argparse.Action]) -> list[str]:
    positionals = [a for a in actions if not a.option_strings]
    optionals = sorted((a for a in actions if a.option_strings), key=_sort_key)
    return [f"| `{_synopsis(a)}` | {_notes(a)} |" for a in [*positionals, *optionals]]


def _table(actions: Sequence[argparse.Action], head: str = "argument") -> list[str]:
    rows = _rows(_documented(actions))
    if not rows:
        return []
    return [f"| {head} | meaning |", "| --- | --- |", *rows, ""]


def _usage(prog: str, parser: argparse.ArgumentParser) -> str:
    parts = [prog]
    sub = _subparsers(parser)
    actions = _documented(parser._actions)
    if any(a.option_strings for a in actions):
        parts.append("[options]")
    if sub is not None:
        parts.append((str(sub.metavar) if sub.metavar else "COMMAND") + " ...")
    parts.extend(_synopsis(a) for a in actions if not a.option_strings)
    return " ".join(parts)


def _anchor(title: str) -> str:
    """GitHub's heading anchor."""
    text = title.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


# -- docs/json.md: which command prints which schema ------------------------------------------


def json_kinds(json_md: str) -> dict[str, str]:
    """``{"envs": "envs", "env get": "env-settings", ...}`` from json.md's table of commands."""
    kinds: dict[str, str] = {}
    headings = set(re.findall(r"^## `([\w-]+)`", json_md, flags=re.M))
    for line in json_md.splitlines():
        m = re.match(r"\|\s*`forge ([^`]*)`(.*)\|\s*`([\w-]+)`\s*\|\s*$", line)
        if not m or m.group(3) not in headings:
            continue
        kind = m.group(3)
        also = m.group(2).split("also", 1)[1] if "also" in m.group(2) else ""
        commands = [m.group(1), *re.findall(r"`([^`]*)`", also)]
        for text in commands:
            words = []
            for word in text.split():
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                words.append(word)
            if words:
                kinds.setdefault(" ".join(words), kind)
    return kinds


# -- exit codes ----------------------------------------------------------------------------------


def member_comments(cls: type[enum.Enum]) -> dict[str, str]:
    """The ``# comment`` after each member of an enum class, from its source."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    comments: dict[str, str] = {}
    for m in re.finditer(r"^\s+([A-Z][A-Z0-9_]*)\s*=\s*[^#\n]+#\s*(.+)$", source, flags=re.M):
        comments[m.group(1)] = m.group(2).strip()
    return comments


def _exit_codes() -> list[str]:
    from forge_store.errors import ExitCode
    from forge_store.policy import EXIT_CODES, GOVERNED_BY

    notes = member_comments(ExitCode)
    lines = [
        "## Exit codes",
        "",
        "Every `forge` command, `forge pip` and `python -m forge_pip` exit with these codes"
        " (`forge_store.errors.ExitCode`; pip's own where pip has one). With `--json`, a failure"
        f" prints an [`error` document]({JSON_DOC}#error) carrying the same `exit_code`.",
        "",
        "| code | name | meaning |",
        "| --- | --- | --- |",
    ]
    for code in sorted(ExitCode, key=int):
        lines.append(f"| {int(code)} | `{code.name}` | {_md(notes.get(code.name, ''))} |")
    kind_notes = member_comments(type(next(iter(EXIT_CODES))))
    lines += [
        "",
        "### `--enforce` exit codes",
        "",
        "Under `forge --enforce` / `--enforce-profile`, a layer-policy finding the command reports at"
        " warn level or above exits with its kind's code; when several kinds are found, the first in"
        f" this table wins (`forge_store.policy.EXIT_CODES`; see [{ENFORCEMENT_DOC}]({ENFORCEMENT_DOC})).",
        "",
        "| code | finding kind (`--json` `kind`) | decided by | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for kind, enforce_code in EXIT_CODES.items():
        note = _md(kind_notes.get(kind.name, ""))
        lines.append(f"| {enforce_code} | `{kind.value}` | `{GOVERNED_BY[kind]}` | {note} |")
    lines.append("")
    return lines


# -- the two parser trees ----------------------------------------------------------------------


def forge_parser() -> argparse.ArgumentParser:
    from forge_pip.cli.forge import _build_parser

    return _build_parser()


def pip_parsers() -> dict[str, argparse.ArgumentParser]:
    from forge_pip.cli import pip_options
    from forge_pip.cli.pip import COMMANDS

    return {name: pip_options.build_parser(name) for name in COMMANDS}


def pip_summaries() -> dict[str, str]:
    from forge_pip.cli.pip import SUMMARIES

    return dict(SUMMARIES)


def _global_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    for group in parser._action_groups:
        if group.title and group.title.startswith("global options"):
            return list(group._group_actions)
    return []


def _forge_section(parser: argparse.ArgumentParser, kinds: dict[str, str]) -> list[str]:
    commands = [c for c in walk(parser) if c.words != ("pip",)]
    lines = [
        "## `forge`",
        "",
        f"```\n{_usage('forge', parser)}\n```",
        "",
        _one_line(parser.description),
        "",
    ]
    lines += ["| option | meaning |", "| --- | --- |"]
    top = [a for a in parser._actions if isinstance(a, argparse._VersionAction | argparse._HelpAction)]
    lines += [f"| `{_synopsis(a)}` | {_md(_help(a))} |" for a in sorted(top, key=_sort_key)]
    lines.append("")
    glob = _global_actions(parser)
    if glob:
        lines += [
            "### Global options",
            "",
            "Taken out of the arguments before the command parses them: they work before the command"
            " and after it, on every `forge` command, `forge install` and `forge pip` included, up to a"
            f" `--` (see [{ENFORCEMENT_DOC}]({ENFORCEMENT_DOC})).",
            "",
            "| option | meaning |",
            "| --- | --- |",
        ]
        for a in sorted(glob, key=_sort_key):
            lines.append(f"| `{_synopsis(a)}` | {_notes(a)} |")
        lines.append("")
    lines += ["### Commands", "", "| command | purpose |", "| --- | --- |"]
    rows = {
        f"forge {' '.join(c.words)}": (_anchor("forge " + " ".join(c.words)), c.summary) for c in commands
    }
    rows["forge pip"] = (_anchor("forge pip / python -m forge_pip"), _pip_summary(parser))
    for title in sorted(rows):
        anchor, summary = rows[title]
        lines.append(f"| [`{title}`](#{anchor}) | {_md(summary)} |")
    lines.append("")
    for c in commands:
        lines += _command_section(c, kinds)
    return lines


def _sentence(text: str) -> str:
    text = _one_line(text)
    if not text:
        return ""
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _pip_summary(parser: argparse.ArgumentParser) -> str:
    sub = _subparsers(parser)
    if sub is None:
        return ""
    return next((a.help or "" for a in sub._get_subactions() if a.dest == "pip"), "")


def _command_section(c: Command, kinds: dict[str, str]) -> list[str]:
    title = "forge " + " ".join(c.words)
    lines = [f"#### `{title}`", "", _sentence(c.summary), ""]
    description = _one_line(c.parser.description)
    if description and description != c.summary:
        lines += [description, ""]
    lines += [f"```\n{_usage(title, c.parser)}\n```", ""]
    lines += _table(c.parser._actions)
    epilog = _one_line(c.parser.epilog)
    if epilog:
        lines += [epilog, ""]
    kind = kinds.get(" ".join(c.words))
    if kind is not None:
        lines += [f"`--json`: the [`{kind}` document]({JSON_DOC}#{kind}).", ""]
    return lines


def _pip_section(parsers: dict[str, argparse.ArgumentParser], summaries: dict[str, str]) -> list[str]:
    lines = [
        "## `forge pip` / `python -m forge_pip`",
        "",
        "The same front end answers `forge pip ARGS`, `python -m forge_pip ARGS` and an env's"
        " `bin/pip` (and `python -m pip` inside a Forge env), with pip's spellings, output and exit"
        " codes, pip's configuration files and `PIP_*` variables honoured with pip's precedence."
        " It takes pip's options below; an option"
        " pip has that is not listed fails with one line naming it (exit 2). Options marked"
        f" *{_FORGE_MARK}* are Forge's extensions.",
        "",
        "```\npython -m forge_pip [general options] COMMAND [options]\n```",
        "",
        "`python -m forge_pip -V` (`--version`) prints pip's version line with Forge's after it;"
        " `python -m forge_pip help` (or `--help`) lists the commands, `COMMAND --help` its options.",
        "",
        "| command | purpose |",
        "| --- | --- |",
    ]
    for name in sorted(parsers):
        title = f"forge pip {name}"
        lines.append(f"| [`{name}`](#{_anchor(title)}) | {_md(summaries.get(name, ''))} |")
    lines.append("")
    general: list[argparse.Action] = []
    first = parsers[sorted(parsers)[0]] if parsers else None
    if first is not None:
        for group in first._action_groups:
            if group.title == _PIP_GENERAL:
                general = list(group._group_actions)
    lines += ["### General options (every command)", ""]
    lines += _table(general, head="option")
    for name in sorted(parsers):
        parser = parsers[name]
        title = f"forge pip {name}"
        own: list[argparse.Action] = []
        for group in parser._action_groups:
            if group.title != _PIP_GENERAL:
                own.extend(group._group_actions)
        lines += [f"#### `{title}`", ""]
        summary = summaries.get(name, "")
        if summary:
            lines += [summary, ""]
        lines += [f"```\n{_usage(title, _without(parser, general))}\n```", ""]
        lines += _table(own) or ["Only the general options.", ""]
    return lines


def _without(parser: argparse.ArgumentParser, drop: Sequence[argparse.Action]) -> argparse.ArgumentParser:
    """A shallow stand-in for usage lines: ``parser``'s actions minus ``drop``."""
    stub = argparse.ArgumentParser(add_help=False)
    dropped = {id(a) for a in drop}
    stub._actions = [a for a in parser._actions if id(a) not in dropped]
    return stub


def render(
    forge: Callable[[], argparse.ArgumentParser] = forge_parser,
    pip: Callable[[], dict[str, argparse.ArgumentParser]] = pip_parsers,
    json_md: str | None = None,
) -> str:
    """The whole of ``docs/cli.md``."""
    if json_md is None:
        path = DEFAULT_OUTPUT.parent / JSON_DOC
        json_md = path.read_text(encoding="utf-8") if path.is_file() else ""
    parser = forge()
    lines = [
        "# Command-line reference",
        "",
        "<!-- Generated from the argparse parsers by forge_pip/cli/docgen.py; do not edit by hand."
        f" Regenerate: {REGENERATE} -->",
        "",
        "Forge has two command lines: `forge` (envs, layers, the store) and the pip-compatible front"
        " end, `forge pip` / `python -m forge_pip` / an env's `bin/pip`. Commands that take `--json`"
        f" print one versioned document on stdout; the schemas are in [{JSON_DOC}]({JSON_DOC}).",
        "",
        "- [`forge`](#forge)",
        "- [`forge pip` / `python -m forge_pip`](#forge-pip--python--m-forge_pip)",
        "- [Exit codes](#exit-codes)",
        "",
    ]
    lines += _forge_section(parser, json_kinds(json_md))
    lines += _pip_section(pip(), pip_summaries())
    lines += _exit_codes()
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m forge_pip.cli.docgen",
        description="Write or check docs/cli.md, generated from the forge and forge pip parsers.",
    )
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the file (the default is stdout)")
    mode.add_argument("--check", action="store_true", help="exit 1 when the file is not what it would be")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="default: docs/cli.md")
    args = ap.parse_args(argv)
    text = render()
    if args.write:
        args.output.write_text(text, encoding="utf-8")
        return 0
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != text:
            print(f"{args.output} is stale: regenerate it with `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
