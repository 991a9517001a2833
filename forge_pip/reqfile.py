"""Requirements files and requirement lines, parsed by pip 23's rules (``pip/_internal/req/req_file.py``).

Preprocessing, in pip's order: ``\\`` at the end of a line joins the next one (a comment line ends
the join), comments (``#`` at the start or after whitespace) are removed, blank lines dropped, then
``${NAME}`` (upper case, digits, ``_`` only) is replaced by a non-empty environment value.

A line is split at the first space-separated token that starts with ``-``: what comes before is the
requirement, the rest is shlex-split and parsed with pip's option set (``optparse``, so unique
prefixes such as ``--extra-index`` work as in pip). On a requirement line only ``--hash`` and
``--config-settings`` apply to the requirement (other options there are ignored, except that
``--no-binary``/``--only-binary`` always take effect, as in pip). On an option line every option
applies to the whole run (``FileOptions``). ``-r``/``-c`` nest relative to the including file or URL;
only the first of them on a line is followed, and other options on that line are dropped (pip).
``-f`` paths are taken relative to the file's directory when that path exists; requirement paths
stay relative to the current directory. Unlike pip, include cycles are an error, not a RecursionError.
"""

from __future__ import annotations

import codecs
import enum
import locale
import logging
import optparse
import os
import re
import shlex
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from forge_pip.config import apply_format_control
from forge_store.errors import ForgeError, UsageError
from forge_store.records import record

__all__ = [
    "FileOptions",
    "ReqKind",
    "ReqLine",
    "RequirementsFileError",
    "parse_requirement_line",
    "parse_requirements",
]

logger = logging.getLogger(__name__)

_SCHEME_RE = re.compile(r"^(http|https|file):", re.I)
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_ENV_VAR_RE = re.compile(r"(?P<var>\$\{(?P<name>[A-Z0-9_]+)\})")
_ENCODING_RE = re.compile(rb"coding[:=]\s*([-\w.]+)")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF32, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
)
_VCS_NAMES = ("bzr", "git", "hg", "svn")
_VCS_SCHEMES = (
    *("bzr+http", "bzr+https", "bzr+ssh", "bzr+sftp", "bzr+ftp", "bzr+lp", "bzr+file"),
    *("git+http", "git+https", "git+ssh", "git+git", "git+file"),
    *("hg+file", "hg+http", "hg+https", "hg+ssh", "hg+static-http"),
    *("svn+ssh", "svn+http", "svn+https", "svn+svn", "svn+file"),
)
_URL_SCHEMES = ("http", "https", "file", "ftp")
_ARCHIVE_EXTENSIONS = (
    *(".zip", ".whl", ".tar.bz2", ".tbz", ".tar.gz", ".tgz", ".tar"),
    *(".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma"),
)
_STRONG_HASHES = ("sha256", "sha384", "sha512")
_FEATURES = ("fast-deps", "truststore", "no-binary-enable-wheel-cache")


class RequirementsFileError(UsageError):
    """A requirements file is missing, cyclic, or has a line Forge (or pip) cannot accept."""

    reference = "requirements-file-error"


class ReqKind(enum.Enum):
    """What a requirement line names, decided as pip's ``parse_req_from_line`` does."""

    NAMED = "named"  # a PEP 508 requirement, including ``name @ url``
    URL = "url"  # a bare http(s)/ftp/file URL of an archive
    VCS = "vcs"  # git+https://... and friends
    PATH = "path"  # a local project directory or archive, relative to the current directory


@record(frozen=True, slots=True)
class ReqLine:
    """One requirement from a file or the command line, with the per-line options pip allows."""

    requirement: str | None
    """The requirement text as written (markers and extras included); None for a pure option line."""
    editable: bool
    constraint: bool
    """True when the line came from a ``-c`` file."""
    hashes: Mapping[str, tuple[str, ...]]
    """``--hash=algo:hex`` options, by algorithm."""
    config_settings: Mapping[str, str | tuple[str, ...]]
    """``--config-settings KEY=VAL``; a repeated key collects its values."""
    source: str
    """``path/to/req.txt:12``, or the text given for command-line requirements."""
    kind: ReqKind = ReqKind.NAMED
    target: str | None = None
    """For URL/VCS/PATH lines: the URL or path without extras and markers."""
    marker: str | None = None
    """For URL/VCS/PATH lines: the marker after ``;`` (``"; "`` for URLs, as pip splits them)."""
    extras: frozenset[str] = frozenset()
    """For PATH lines: extras written as ``./project[extra]``."""


@record(frozen=True, slots=True)
class FileOptions:
    """Global options met in requirements files, merged in file order the way pip applies them."""

    index_url: str | None = None
    """The last ``-i``: it replaces the command line's index URLs *and* its extra ones, as in pip."""
    extra_index_urls: tuple[str, ...] = ()
    """Extra index URLs seen after the last ``-i`` (all of them when there is no ``-i``)."""
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    pre: bool = False
    prefer_binary: bool = False
    format_ops: tuple[tuple[str, str], ...] = ()
    """``("no-binary" | "only-binary", value)`` in order; see ``apply_format_control``."""
    require_hashes: bool = False
    trusted_hosts: tuple[str, ...] = ()
    use_features: tuple[str, ...] = ()

    @property
    def only_binary(self) -> frozenset[str]:
        return self._format_sets()[1]

    @property
    def no_binary(self) -> frozenset[str]:
        return self._format_sets()[0]

    def _format_sets(self) -> tuple[frozenset[str], frozenset[str]]:
        no_binary: set[str] = set()
        only_binary: set[str] = set()
        self.apply_format_control(no_binary, only_binary)
        return frozenset(no_binary), frozenset(only_binary)

    def apply_format_control(self, no_binary: set[str], only_binary: set[str]) -> None:
        """Apply the files' ``--no-binary``/``--only-binary`` on top of the command line's sets."""
        for option, value in self.format_ops:
            if option == "no-binary":
                apply_format_control(value, no_binary, only_binary)
            else:
                apply_format_control(value, only_binary, no_binary)

    def index_urls(self, base: Sequence[str], *, no_index: bool = False) -> list[str]:
        """The index URLs in effect after the files, given the command line's (index, then extras)."""
        if no_index or self.no_index:
            return []
        if self.index_url is not None:
            return [self.index_url, *self.extra_index_urls]
        return [*base, *self.extra_index_urls]


# -- line parsing ------------------------------------------------------------------------------


class _OptionParsingError(Exception):
    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


class _LineParser(optparse.OptionParser):
    values: optparse.Values  # always set while callbacks run

    def error(self, msg: str) -> NoReturn:
        raise _OptionParsingError(msg)

    def exit(self, status: int = 0, msg: str | None = None) -> NoReturn:
        raise _OptionParsingError(msg or "")


def _merge_hash(option: optparse.Option, opt_str: str, value: str, parser: _LineParser) -> None:
    hashes: dict[str, list[str]] = parser.values.hashes or {}
    parser.values.hashes = hashes
    algo, sep, digest = value.partition(":")
    if not sep:
        parser.error(
            f"Arguments to {opt_str} must be a hash name followed by a value, like --hash=sha256:abcde..."
        )
    if algo not in _STRONG_HASHES:
        parser.error(f"Allowed hash algorithms for {opt_str} are {', '.join(_STRONG_HASHES)}.")
    hashes.setdefault(algo, []).append(digest)


def _config_setting(option: optparse.Option, opt_str: str, value: str, parser: _LineParser) -> None:
    key, sep, val = value.partition("=")
    if sep != "=":
        parser.error(f"Arguments to {opt_str} must be of the form KEY=VAL")
    settings: dict[str, list[str]] = parser.values.config_settings or {}
    parser.values.config_settings = settings
    settings.setdefault(key, []).append(val)


def _format_op(option: optparse.Option, opt_str: str, value: str, parser: _LineParser) -> None:
    if value.startswith("-"):
        parser.error("--no-binary / --only-binary option requires 1 argument.")
    parser.values.format_ops.append((option.get_opt_string()[2:], value))


def _build_parser() -> _LineParser:
    parser = _LineParser(add_help_option=False)
    add = parser.add_option
    add("-i", "--index-url", "--pypi-url", dest="index_url")
    add("--extra-index-url", dest="extra_index_urls", action="append", default=[])
    add("--no-index", dest="no_index", action="store_true", default=False)
    add("-c", "--constraint", dest="constraints", action="append", default=[])
    add("-r", "--requirement", dest="requirements", action="append", default=[])
    add("-e", "--editable", dest="editables", action="append", default=[])
    add("-f", "--find-links", dest="find_links", action="append", default=[])
    for name in ("--no-binary", "--only-binary"):
        add(name, dest="format_control", action="callback", callback=_format_op, type="string")
    add("--prefer-binary", dest="prefer_binary", action="store_true", default=False)
    add("--require-hashes", dest="require_hashes", action="store_true", default=False)
    add("--pre", dest="pre", action="store_true", default=False)
    add("--trusted-host", dest="trusted_hosts", action="append", default=[])
    add("--use-feature", dest="features_enabled", action="append", default=[], choices=list(_FEATURES))
    add("--global-option", dest="global_options", action="append", default=[])
    add("--hash", dest="hashes", action="callback", callback=_merge_hash, type="string")
    add(
        "-C",
        "--config-settings",
        dest="config_settings",
        action="callback",
        callback=_config_setting,
        type="str",
    )
    return parser


def _break_args_options(line: str) -> tuple[str, str]:
    """pip's split: tokens on single spaces, the requirement ends at the first token starting with ``-``."""
    tokens = line.split(" ")
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), " ".join(tokens[index:])
    return line, ""


_parsers = threading.local()


def _line_parser() -> _LineParser:
    """This thread's line parser, built once: pip builds one per line, ~1 ms each, the biggest
    cost of reading a long file of pins. ``parse_args`` keeps nothing between calls given fresh
    values (see :func:`_fresh_values`)."""
    parser: _LineParser | None = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = _build_parser()
    return parser


def _fresh_values() -> optparse.Values:
    """The line options' defaults, none shared with another line: optparse copies its defaults
    shallowly, and an ``append`` option appends to the default list itself."""
    values = _line_parser().get_default_values()
    for key, value in vars(values).items():
        if isinstance(value, (list, dict)):
            setattr(values, key, type(value)(value))
    values.format_ops = []
    return values


def _parse_options(line: str, source: str) -> tuple[str, optparse.Values]:
    args, options_str = _break_args_options(line)
    if not options_str:  # the common line: a requirement alone
        return args, _fresh_values()
    try:
        opts, leftover = _line_parser().parse_args(shlex.split(options_str), _fresh_values())
    except (_OptionParsingError, ValueError) as exc:
        msg = exc.msg if isinstance(exc, _OptionParsingError) else f"could not split options: {exc}"
        raise RequirementsFileError(f"{source}: invalid line {line!r}: {msg}") from None
    if leftover:
        logger.warning("%s: ignoring %s after the options (pip ignores them too)", source, " ".join(leftover))
    return args, opts


def _hashes(opts: optparse.Values) -> dict[str, tuple[str, ...]]:
    return {algo: tuple(digests) for algo, digests in (opts.hashes or {}).items()}


def _settings(opts: optparse.Values) -> dict[str, str | tuple[str, ...]]:
    settings: dict[str, list[str]] = opts.config_settings or {}
    return {key: vals[0] if len(vals) == 1 else tuple(vals) for key, vals in settings.items()}


def parse_requirement_line(
    text: str, source: str, *, constraint: bool = False, cwd: str | None = None, with_options: bool = True
) -> ReqLine:
    """One requirement line (from a file, already preprocessed, or a command-line argument).

    pip reads a command-line argument whole (no ``--hash`` there): pass ``with_options=False`` for
    those. Option-only lines give ``requirement=None``; ``parse_requirements`` handles files and
    collects their global options.
    """
    if not with_options:
        return _make_req_line(text.strip(), _fresh_values(), source, constraint, cwd)
    args, opts = _parse_options(text.strip(), source)
    return _make_req_line(args, opts, source, constraint, cwd)


def _make_req_line(
    args: str, opts: optparse.Values, source: str, constraint: bool, cwd: str | None
) -> ReqLine:
    if args:
        if opts.global_options:
            raise RequirementsFileError(
                f"{source}: --global-option is not supported by Forge: {args}",
                hint="Pass build settings with --config-settings KEY=VALUE instead.",
            )
        kind, target, marker, extras = _classify(args, source, cwd)
        return ReqLine(
            args, False, constraint, _hashes(opts), _settings(opts), source, kind, target, marker, extras
        )
    if opts.editables:
        kind, target, extras = _classify_editable(opts.editables[0], source, cwd)
        return ReqLine(opts.editables[0], True, constraint, {}, {}, source, kind, target, None, extras)
    return ReqLine(None, False, constraint, {}, {}, source)


def _url_scheme(text: str) -> str | None:
    return text.split(":", 1)[0].lower() if ":" in text else None


def _is_archive(path: str) -> bool:
    base, ext = os.path.splitext(path)
    if base.lower().endswith(".tar"):
        ext = base[-4:] + ext
    return ext.lower() in _ARCHIVE_EXTENSIONS


def _looks_like_path(name: str) -> bool:
    return os.sep in name or (os.altsep is not None and os.altsep in name) or name.startswith(".")


def _split_extras(path: str) -> tuple[str, frozenset[str]]:
    match = re.match(r"^(.+)(\[[^\]]+\])$", path)
    if not match:
        return path, frozenset()
    extras = Requirement("placeholder" + match.group(2).lower()).extras
    return match.group(1), frozenset(extras)


def _classify(
    text: str, source: str, cwd: str | None
) -> tuple[ReqKind, str | None, str | None, frozenset[str]]:
    """pip's ``parse_req_from_line``: a URL, a local path, or a PEP 508 requirement (validated here)."""
    scheme = _url_scheme(text)
    is_url = scheme in _URL_SCHEMES or scheme in _VCS_SCHEMES
    name, marker = text, None
    sep = "; " if is_url else ";"
    if sep in text:
        name, marker_text = text.split(sep, 1)
        marker = marker_text.strip() or None
        if marker is not None:
            try:
                Marker(marker)
            except InvalidMarker as exc:
                raise RequirementsFileError(f"{source}: invalid marker in {text!r}: {exc}") from None
    name = name.strip()
    if is_url:
        kind = ReqKind.VCS if scheme in _VCS_SCHEMES else ReqKind.URL
        return kind, name, marker, frozenset()
    base = Path(cwd) if cwd is not None else Path.cwd()
    try:
        path, extras = _split_extras(name)
    except InvalidRequirement as exc:
        raise RequirementsFileError(f"{source}: invalid extras in {text!r}: {exc}") from None
    full = base / path
    if _looks_like_path(name) and full.is_dir():
        if not ((full / "pyproject.toml").is_file() or (full / "setup.py").is_file()):
            raise RequirementsFileError(
                f"{source}: directory {name!r} is not installable: "
                "neither 'setup.py' nor 'pyproject.toml' found"
            )
        return ReqKind.PATH, path, marker, extras
    if _is_archive(path):
        before_at = name.split("@", 1)
        if full.is_file() or len(before_at) < 2 or _looks_like_path(before_at[0]):
            if path.endswith(".whl"):
                try:
                    parse_wheel_filename(os.path.basename(path))
                except InvalidWheelFilename as exc:
                    raise RequirementsFileError(
                        f"{source}: invalid wheel file name in {text!r}: {exc}"
                    ) from None
            return ReqKind.PATH, path, marker, extras
    try:
        Requirement(text)
    except InvalidRequirement as exc:
        hint = None
        if os.sep in text:
            hint = f"It looks like a path, but {name!r} does not exist."
        elif "=" in text and not any(op in text for op in ("==", "!=", "<=", ">=", "~=", "===")):
            hint = "= is not a valid operator. Did you mean == ?"
        raise RequirementsFileError(f"{source}: invalid requirement {text!r}: {exc}", hint=hint) from None
    return ReqKind.NAMED, None, None, frozenset()


def _classify_editable(text: str, source: str, cwd: str | None) -> tuple[ReqKind, str, frozenset[str]]:
    """pip's ``parse_editable``: a local project directory, a ``file:`` URL, or a VCS URL."""
    try:
        path, extras = _split_extras(text)
    except InvalidRequirement as exc:
        raise RequirementsFileError(f"{source}: invalid extras in {text!r}: {exc}") from None
    base = Path(cwd) if cwd is not None else Path.cwd()
    if (base / path).is_dir():
        return ReqKind.PATH, path, extras
    if path.lower().startswith("file:"):
        return ReqKind.URL, path, extras
    url = text
    for name in _VCS_NAMES:
        if url.lower().startswith(f"{name}:"):
            url = f"{name}+{url}"
            break
    if _url_scheme(url) not in _VCS_SCHEMES:
        raise RequirementsFileError(
            f"{source}: {text!r} is not a valid editable requirement",
            hint="It should be a path to a local project or a VCS URL (git+https://... and the like).",
        )
    return ReqKind.VCS, url, frozenset()


# -- files ---------------------------------------------------------------------------------------


def _preprocess(content: str, environ: Mapping[str, str]) -> Iterator[tuple[int, str]]:
    """Join continuations, drop comments and blank lines, expand ``${VAR}``; keep first line numbers."""
    for number, line in _strip_comments(_join_lines(enumerate(content.splitlines(), start=1))):
        for var, name in _ENV_VAR_RE.findall(line):
            value = environ.get(name)
            if value:
                line = line.replace(var, value)
        yield number, line


def _join_lines(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    primary = 0
    pending: list[str] = []
    for number, line in lines:
        if not line.endswith("\\") or _COMMENT_RE.match(line):
            if _COMMENT_RE.match(line):
                line = " " + line  # so the comment is still removed once joined
            if pending:
                pending.append(line)
                yield primary, "".join(pending)
                pending = []
            else:
                yield number, line
        else:
            if not pending:
                primary = number
            pending.append(line.strip("\\"))
    if pending:
        yield primary, "".join(pending)


def _strip_comments(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    for number, line in lines:
        line = _COMMENT_RE.sub("", line).strip()
        if line:
            yield number, line


def _decode(data: bytes) -> str:
    """pip's ``auto_decode``: a BOM, else a PEP 263 coding line, else the locale's encoding."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding)
    for line in data.split(b"\n")[:2]:
        match = _ENCODING_RE.search(line)
        if line[0:1] == b"#" and match:
            return data.decode(match.group(1).decode("ascii"))
    return data.decode(locale.getpreferredencoding(False) or sys.getdefaultencoding())


class _Reader:
    """Walks one top-level file and its includes, collecting requirement lines and file options."""

    def __init__(
        self, environ: Mapping[str, str], fetch: Callable[[str], str] | None, cwd: str | None
    ) -> None:
        self.environ = environ
        self.fetch = fetch
        self.cwd = cwd
        self.reqs: list[ReqLine] = []
        self.opts: dict[str, Any] = {
            "index_url": None,
            "extra_index_urls": [],
            "find_links": [],
            "no_index": False,
            "pre": False,
            "prefer_binary": False,
            "format_ops": [],
            "require_hashes": False,
            "trusted_hosts": [],
            "use_features": [],
        }
        self.stack: list[str] = []

    def _read(self, location: str, included_from: str | None) -> str:
        where = f"{included_from}: " if included_from else ""
        scheme = _url_scheme(location)
        if scheme in ("http", "https"):
            if self.fetch is None:
                raise RequirementsFileError(
                    f"{where}cannot read requirements file {location}: no HTTP client given"
                )
            try:
                return self.fetch(location)
            except ForgeError:
                raise
            except OSError as exc:
                raise RequirementsFileError(
                    f"{where}could not fetch requirements file {location}: {exc}"
                ) from None
        path = location
        if scheme == "file":
            path = _url2pathname(urllib.parse.urlsplit(location).path)
        try:
            data = (Path(self.cwd or ".") / path).read_bytes()
        except OSError as exc:
            reason = f"[Errno {exc.errno}] {exc.strerror}: {location!r}" if exc.errno else str(exc)
            raise RequirementsFileError(f"{where}Could not open requirements file: {reason}") from None
        try:
            return _decode(data)
        except (UnicodeDecodeError, LookupError) as exc:
            raise RequirementsFileError(f"{where}cannot decode requirements file {location}: {exc}") from None

    def _identity(self, location: str) -> str:
        if _url_scheme(location) in ("http", "https"):
            return location
        if _url_scheme(location) == "file":
            location = _url2pathname(urllib.parse.urlsplit(location).path)
        return os.path.realpath(Path(self.cwd or ".") / location)

    def parse(self, location: str, constraint: bool, included_from: str | None = None) -> None:
        identity = self._identity(location)
        if identity in self.stack:
            chain = " -> ".join([*self.stack[self.stack.index(identity) :], identity])
            raise RequirementsFileError(f"{included_from}: requirements files include each other: {chain}")
        content = self._read(location, included_from)
        self.stack.append(identity)
        for number, line in _preprocess(content, self.environ):
            source = f"{location}:{number}"
            args, opts = _parse_options(line, source)
            self.opts["format_ops"].extend(opts.format_ops)
            if args or opts.editables:
                self.reqs.append(_make_req_line(args, opts, source, constraint, self.cwd))
            elif opts.requirements or opts.constraints:
                nested = opts.requirements[0] if opts.requirements else opts.constraints[0]
                if _SCHEME_RE.search(location):
                    nested = urllib.parse.urljoin(location, nested)
                elif not _SCHEME_RE.search(nested):
                    nested = os.path.join(os.path.dirname(location), nested)
                self.parse(nested, not opts.requirements, source)
            else:
                self._option_line(opts, location, source)
        self.stack.pop()

    def _option_line(self, opts: optparse.Values, location: str, source: str) -> None:
        state = self.opts
        if opts.hashes:
            logger.warning("%s has --hash but no requirement, and will be ignored.", source)
        if opts.global_options or opts.config_settings:
            logger.warning("%s has per-requirement options but no requirement; ignored.", source)
        state["require_hashes"] |= opts.require_hashes
        state["use_features"] += [f for f in opts.features_enabled if f not in state["use_features"]]
        if opts.no_index:
            state["no_index"] = True
        if not state["no_index"]:
            if opts.index_url:
                state["index_url"] = opts.index_url
                state["extra_index_urls"] = []
            state["extra_index_urls"] += opts.extra_index_urls
        if opts.find_links:
            value = opts.find_links[0]  # pip takes only the first -f of a line
            if not _SCHEME_RE.search(location):
                beside = os.path.join(
                    os.path.dirname(os.path.abspath(Path(self.cwd or ".") / location)), value
                )
                if os.path.exists(beside):
                    value = beside
            state["find_links"].append(value)
        state["pre"] |= opts.pre
        state["prefer_binary"] |= opts.prefer_binary
        state["trusted_hosts"] += opts.trusted_hosts

    def file_options(self) -> FileOptions:
        state = self.opts
        return FileOptions(
            index_url=state["index_url"],
            extra_index_urls=tuple(state["extra_index_urls"]),
            find_links=tuple(state["find_links"]),
            no_index=state["no_index"],
            pre=state["pre"],
            prefer_binary=state["prefer_binary"],
            format_ops=tuple(state["format_ops"]),
            require_hashes=state["require_hashes"],
            trusted_hosts=tuple(state["trusted_hosts"]),
            use_features=tuple(state["use_features"]),
        )


def parse_requirements(
    path_or_url: str,
    *,
    constraint: bool = False,
    environ: Mapping[str, str],
    fetch: Callable[[str], str] | None = None,
    cwd: str | None = None,
) -> tuple[list[ReqLine], FileOptions]:
    """Read a requirements (or, with ``constraint``, constraints) file and everything it includes.

    ``fetch`` reads ``http(s)://`` files (the caller wires its HTTP session); ``file:`` URLs and paths
    are read directly. ``cwd`` (default: the process's) is where relative paths start.
    """
    reader = _Reader(environ, fetch, cwd)
    reader.parse(path_or_url, constraint)
    return reader.reqs, reader.file_options()


def _url2pathname(path: str) -> str:
    """``urllib.request.url2pathname``, imported when a ``file:`` location is read (it loads
    ``http.client``, ``email`` and ``ssl``, which a plain requirements file never needs)."""
    import urllib.request

    return urllib.request.url2pathname(path)
