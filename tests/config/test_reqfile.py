"""Requirements files parsed by pip's rules: preprocessing, options, includes, errors with file:line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forge_pip.reqfile import (
    FileOptions,
    ReqKind,
    RequirementsFileError,
    parse_requirement_line,
    parse_requirements,
)
from forge_store.errors import UsageError


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _parse(
    path: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[list[str], FileOptions]:
    reqs, opts = parse_requirements(str(path), environ=env or {}, cwd=str(cwd) if cwd else None)
    return [r.requirement or "" for r in reqs], opts


def test_comments_continuations_and_line_numbers(tmp_path: Path) -> None:
    req = _write(
        tmp_path / "r.txt",
        "# header\n"
        "\n"
        "alpha==1  # trailing comment\n"
        "beta \\\n"
        "  >=2 \\\n"
        "  ; python_version > '3'\n"
        "gamma @ https://h/g-1.0.tar.gz#egg=gamma\n"
        "delta \\\n"
        "# a comment ends the join\n"
        "\t# indented comment\n",
    )
    reqs, _ = parse_requirements(str(req), environ={})
    assert [(r.requirement, r.source) for r in reqs] == [
        ("alpha==1", f"{req}:3"),
        ("beta   >=2   ; python_version > '3'", f"{req}:4"),
        ("gamma @ https://h/g-1.0.tar.gz#egg=gamma", f"{req}:7"),
        ("delta", f"{req}:8"),
    ]


def test_env_var_expansion_only_braced_uppercase(tmp_path: Path) -> None:
    req = _write(
        tmp_path / "r.txt",
        "pkg @ https://${HOST}/p-1.0.tar.gz\n"
        "https://h/${lower}/$HOST/${UNSET}/${HOST}/x-1.0.tar.gz\n"
        "${NAME_2}==1 # ${NAME_2} in a comment is gone before expansion\n",
    )
    names, _ = _parse(req, env={"HOST": "h.example", "lower": "no", "UNSET": "", "NAME_2": "two"})
    assert names == [
        "pkg @ https://h.example/p-1.0.tar.gz",
        "https://h/${lower}/$HOST/${UNSET}/h.example/x-1.0.tar.gz",
        "two==1",
    ]


def test_env_var_unexpanded_stays_and_is_invalid(tmp_path: Path) -> None:
    req = _write(tmp_path / "r.txt", "ok==1\nz${UNSET}==1\n")
    with pytest.raises(RequirementsFileError, match=r"r\.txt:2.*z\$\{UNSET\}==1"):
        _parse(req, env={})


def test_nested_requirements_and_constraints_relative_to_file(tmp_path: Path) -> None:
    _write(tmp_path / "sub/base.txt", "base==1\n-c ../cons/c.txt\n")
    _write(tmp_path / "cons/c.txt", "pinned==2\n-r more.txt\n")
    _write(tmp_path / "cons/more.txt", "more==3\n")
    top = _write(tmp_path / "top.txt", "-r sub/base.txt\n--requirement=sub/base.txt\ntop==0\n")
    reqs, _ = parse_requirements(str(top), environ={})
    got = [(r.requirement, r.constraint) for r in reqs]
    once = [("base==1", False), ("pinned==2", True), ("more==3", False)]
    assert got == once + once + [("top==0", False)]
    constraint_reqs, _ = parse_requirements(str(tmp_path / "cons/c.txt"), environ={}, constraint=True)
    assert [(r.requirement, r.constraint) for r in constraint_reqs] == [
        ("pinned==2", True),
        ("more==3", False),
    ]


def test_include_cycle_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt", "a==1\n-r b.txt\n")
    _write(tmp_path / "b.txt", "\n-r ./a.txt\n")
    with pytest.raises(RequirementsFileError, match=r"b\.txt:2: requirements files include each other"):
        parse_requirements(str(tmp_path / "a.txt"), environ={})


def test_missing_files_name_the_includer(tmp_path: Path) -> None:
    with pytest.raises(RequirementsFileError, match=r"Could not open requirements file: .*nope\.txt"):
        parse_requirements(str(tmp_path / "nope.txt"), environ={})
    top = _write(tmp_path / "top.txt", "x==1\n-r gone.txt\n")
    with pytest.raises(UsageError, match=rf"{top}:2: Could not open requirements file: .*gone\.txt"):
        parse_requirements(str(top), environ={})


def test_file_options(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    req = _write(
        tmp_path / "r.txt",
        "--extra-index-url http://before\n"
        "-i http://main\n"
        "--extra-index http://x1 --extra-index-url=http://x2\n"
        "-f wheels\n"
        "--find-links ./not-there -f second-ignored\n"
        "--pre\n--prefer-binary\n--require-hashes\n"
        "--trusted-host h1 --trusted-host=h2\n"
        "--only-binary :all:\n--no-binary Foo_Bar,baz\n"
        "--use-feature=truststore\n"
        "pkg==1 --pre --no-binary qux\n",
    )
    names, opts = _parse(req)
    assert names == ["pkg==1"]
    assert opts.index_url == "http://main"
    assert opts.extra_index_urls == ("http://x1", "http://x2")
    assert opts.find_links == (str(tmp_path / "wheels"), "./not-there")
    assert (opts.pre, opts.prefer_binary, opts.require_hashes, opts.no_index) == (True, True, True, False)
    assert opts.trusted_hosts == ("h1", "h2")
    assert opts.only_binary == frozenset({":all:"})
    assert opts.no_binary == frozenset({"foo-bar", "baz", "qux"})  # --no-binary on a requirement line counts
    assert opts.use_features == ("truststore",)
    assert opts.index_urls(["http://cli", "http://cli-extra"]) == ["http://main", "http://x1", "http://x2"]


def test_no_index_and_index_urls(tmp_path: Path) -> None:
    extra_only = _write(tmp_path / "a.txt", "--extra-index-url http://e\n")
    _, opts = _parse(extra_only)
    assert opts.index_urls(["http://cli"]) == ["http://cli", "http://e"]
    assert opts.index_urls(["http://cli"], no_index=True) == []
    no_index = _write(tmp_path / "b.txt", "--no-index\n-i http://ignored\n")
    _, opts = _parse(no_index)
    assert opts.no_index and opts.index_url is None and opts.index_urls(["http://cli"]) == []


def test_options_on_a_line_with_r_are_dropped(tmp_path: Path) -> None:
    _write(tmp_path / "inner.txt", "inner==1\n")
    req = _write(tmp_path / "r.txt", "-r inner.txt --pre\n")
    names, opts = _parse(req)
    assert names == ["inner==1"] and opts.pre is False


def test_hashes_and_config_settings(tmp_path: Path) -> None:
    req = _write(
        tmp_path / "r.txt",
        "pkg==1.0 \\\n    --hash=sha256:aaa \\\n    --hash sha256:bbb --hash=sha512:ccc\n"
        "other==2 -C k=v --config-settings=k=w --config-settings j=1\n"
        "--hash=sha256:ignored\n",
    )
    reqs, _ = parse_requirements(str(req), environ={})
    assert dict(reqs[0].hashes) == {"sha256": ("aaa", "bbb"), "sha512": ("ccc",)}
    assert dict(reqs[1].config_settings) == {"k": ("v", "w"), "j": "1"}
    assert len(reqs) == 2


def test_editable_lines(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    _write(project / "pyproject.toml", "")
    req = _write(tmp_path / "r.txt", "-e proj[dev]\n--editable=git+https://h/r.git#egg=r\n")
    reqs, _ = parse_requirements(str(req), environ={}, cwd=str(tmp_path))
    assert [(r.requirement, r.editable, r.kind, r.target, r.extras) for r in reqs] == [
        ("proj[dev]", True, ReqKind.PATH, "proj", frozenset({"dev"})),
        ("git+https://h/r.git#egg=r", True, ReqKind.VCS, "git+https://h/r.git#egg=r", frozenset()),
    ]
    with pytest.raises(RequirementsFileError, match=r"not a valid editable requirement"):
        parse_requirement_line("-e not-a-dir", "cli", cwd=str(tmp_path))


def test_paths_resolve_against_cwd_not_the_file(tmp_path: Path) -> None:
    _write(tmp_path / "cwd/proj/setup.py", "")
    _write(tmp_path / "cwd/dist/pkg-1.0-py3-none-any.whl", "")
    req = _write(tmp_path / "files/r.txt", "./proj\ndist/pkg-1.0-py3-none-any.whl ; python_version >= '3'\n")
    reqs, _ = parse_requirements(str(req), environ={}, cwd=str(tmp_path / "cwd"))
    assert [(r.kind, r.target, r.marker) for r in reqs] == [
        (ReqKind.PATH, "./proj", None),
        (ReqKind.PATH, "dist/pkg-1.0-py3-none-any.whl", "python_version >= '3'"),
    ]
    with pytest.raises(RequirementsFileError, match=r"r\.txt:1.*'\./proj'"):
        parse_requirements(str(req), environ={}, cwd=str(tmp_path / "files"))


TRICKY = [
    ("numpy>=1.0; python_version>'3'", ReqKind.NAMED, None, None),
    ("requests[security,socks]==2.*", ReqKind.NAMED, None, None),
    ("pkg @ https://h/pkg-1.0.tar.gz", ReqKind.NAMED, None, None),
    ("pkg @ https://h/pkg-1.0.tar.gz ; sys_platform == 'linux'", ReqKind.NAMED, None, None),
    ("https://h/pkg-1.0.tar.gz#sha256=abc", ReqKind.URL, "https://h/pkg-1.0.tar.gz#sha256=abc", None),
    ("https://h/p;x.whl", ReqKind.URL, "https://h/p;x.whl", None),
    ("https://h/p.whl ; os_name == 'posix'", ReqKind.URL, "https://h/p.whl", "os_name == 'posix'"),
    ("git+https://h/r.git@v1#egg=r", ReqKind.VCS, "git+https://h/r.git@v1#egg=r", None),
    ("file:///tmp/x-1.0.tar.gz", ReqKind.URL, "file:///tmp/x-1.0.tar.gz", None),
    ("missing/pkg-1.0.tar.gz", ReqKind.PATH, "missing/pkg-1.0.tar.gz", None),
    ("name@./x-1.0.tar.gz", ReqKind.NAMED, None, None),  # "@" before a non-path: a PEP 508 name, as pip
    ("./missing/x-1.0.tar.gz[extra]", ReqKind.PATH, "./missing/x-1.0.tar.gz", None),
    ("pkg ; python_version < '3'", ReqKind.NAMED, None, None),
]


@pytest.mark.parametrize(("line", "kind", "target", "marker"), TRICKY)
def test_tricky_lines(
    tmp_path: Path, line: str, kind: ReqKind, target: str | None, marker: str | None
) -> None:
    parsed = parse_requirement_line(line, "cli", cwd=str(tmp_path))
    assert (parsed.requirement, parsed.kind, parsed.target, parsed.marker) == (line, kind, target, marker)
    assert not parsed.editable and parsed.source == "cli"


BAD = [
    ("pkg=1.0", r"Did you mean =="),
    ("pkg>=1 --hash=md5:abc", r"Allowed hash algorithms for --hash are sha256, sha384, sha512"),
    ("pkg>=1 --hash=abc", r"must be a hash name followed by a value"),
    ("pkg>=1 --global-option=--x", r"--global-option is not supported"),
    ("--unknown-option", r"no such option: --unknown-option"),
    ("--pr", r"ambiguous option"),
    ("-i", r"-i option requires 1 argument"),
    ("pkg>=1 --hash='unterminated", r"could not split options"),
    ("--use-feature=nope", r"invalid choice"),
    ("pkg; python_version >>> '3'", r"invalid marker|invalid requirement"),
    ("bad/wheel.whl", r"Invalid wheel filename|invalid wheel"),
    ("pkg[", r"invalid requirement"),
]


@pytest.mark.parametrize(("line", "message"), BAD)
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    req = _write(tmp_path / "r.txt", f"good==1\n\n{line}\n")
    with pytest.raises(RequirementsFileError) as info:
        parse_requirements(str(req), environ={}, cwd=str(tmp_path))
    assert re.search(message, f"{info.value.message} {info.value.hint}")
    assert info.value.message.startswith(f"{req}:3: ")
    assert line.split(" ")[0] in info.value.message
    assert info.value.exit_code == 2


def test_urls_need_fetch_and_join_relative_includes(tmp_path: Path) -> None:
    with pytest.raises(RequirementsFileError, match="no HTTP client"):
        parse_requirements("https://example.invalid/r.txt", environ={})
    pages = {
        "https://h/dir/r.txt": "a==1\n-r ../other/o.txt\n-c /abs/c.txt\n",
        "https://h/other/o.txt": "b==2\n",
        "https://h/abs/c.txt": "c==3\n",
    }
    fetched: list[str] = []

    def fetch(url: str) -> str:
        fetched.append(url)
        return pages[url]

    reqs, _ = parse_requirements("https://h/dir/r.txt", environ={}, fetch=fetch)
    assert [(r.requirement, r.constraint, r.source) for r in reqs] == [
        ("a==1", False, "https://h/dir/r.txt:1"),
        ("b==2", False, "https://h/other/o.txt:1"),
        ("c==3", True, "https://h/abs/c.txt:1"),
    ]
    assert fetched == list(pages)


def test_file_url_and_encoding(tmp_path: Path) -> None:
    req = tmp_path / "r.txt"
    req.write_bytes(b"\xef\xbb\xbfok==1 # caf\xc3\xa9\n")
    reqs, _ = parse_requirements(req.as_uri(), environ={})
    assert [r.requirement for r in reqs] == ["ok==1"]
    latin = tmp_path / "l.txt"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\nok==1 # \xe9\n")
    assert _parse(latin)[0] == ["ok==1"]


def _pip_python() -> str | None:
    for candidate in (shutil.which("python3"), sys.executable):
        if (
            candidate
            and subprocess.run([candidate, "-m", "pip", "--version"], capture_output=True).returncode == 0
        ):
            return candidate
    return None


def test_matches_pip_parse_requirements(tmp_path: Path) -> None:
    """Differential: pip's own parser (in a subprocess) yields the same requirement lines."""
    python = _pip_python()
    if python is None:
        pytest.skip("pip is not available")
    _write(tmp_path / "inc/c.txt", "pinned==2 --hash=sha256:ff\n")
    req = _write(
        tmp_path / "r.txt",
        "a==1 \\\n --hash=sha256:aa # c\n-c inc/c.txt\n"
        "b[x] ; python_version >= '3' --hash sha384:bb\n"
        "c @ https://h/c-1.0.tar.gz#frag\n${V}==3\n-e git+https://h/e.git#egg=e\n",
    )
    script = (
        "import json, sys\n"
        "from pip._internal.network.session import PipSession\n"
        "from pip._internal.req.req_file import parse_requirements\n"
        "out = [[p.requirement, p.is_editable, p.constraint, (p.options or {}).get('hashes', {})]\n"
        "       for p in parse_requirements(sys.argv[1], PipSession())]\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "V": "vee"}
    proc = subprocess.run(
        [python, "-c", script, str(req)], capture_output=True, text=True, env=env, check=True
    )
    reqs, _ = parse_requirements(str(req), environ=env)
    ours = [
        [r.requirement, r.editable, r.constraint, {k: list(v) for k, v in r.hashes.items()}] for r in reqs
    ]
    assert ours == json.loads(proc.stdout)


def test_command_line_arguments_are_read_whole(tmp_path: Path) -> None:
    parsed = parse_requirement_line("pkg ; python_version >= '3'", "argv[1]", with_options=False)
    assert (parsed.requirement, parsed.kind, parsed.source) == (
        "pkg ; python_version >= '3'",
        ReqKind.NAMED,
        "argv[1]",
    )
    with pytest.raises(RequirementsFileError, match=r"argv\[1\]: invalid requirement 'pkg --hash=sha256:x'"):
        parse_requirement_line("pkg --hash=sha256:x", "argv[1]", with_options=False)
    assert parse_requirement_line("--pre", "x").requirement is None


def test_no_option_of_one_line_reaches_another(tmp_path: Path) -> None:
    """The line parser is built once and reused: every list or mapping an option fills starts
    empty on each line (optparse shares its default lists; an ``append`` option appends to them)."""
    digest = "a" * 64
    req = _write(
        tmp_path / "r.txt",
        f"alpha==1 --hash=sha256:{digest} --config-settings=k=v\n"
        "beta==2\n"
        "--extra-index-url https://one.example/simple\n"
        "--extra-index-url https://two.example/simple\n"
        "--trusted-host one.example\n"
        "-f https://links.example/a\n"
        "-f https://links.example/b\n"
        f"gamma==3 --hash=sha256:{'b' * 64}\n",
    )
    for _ in range(2):  # a second file read by the same parser sees nothing of the first
        reqs, opts = parse_requirements(str(req), environ={})
        by_name = {r.requirement: r for r in reqs}
        assert by_name["alpha==1"].hashes == {"sha256": (digest,)}
        assert by_name["alpha==1"].config_settings == {"k": "v"}
        assert by_name["beta==2"].hashes == {} and by_name["beta==2"].config_settings == {}
        assert by_name["gamma==3"].hashes == {"sha256": ("b" * 64,)}
        assert by_name["gamma==3"].config_settings == {}
        assert opts.extra_index_urls == ("https://one.example/simple", "https://two.example/simple")
        assert opts.trusted_hosts == ("one.example",)
        assert opts.find_links == ("https://links.example/a", "https://links.example/b")
    line = parse_requirement_line("delta==4", "cli", with_options=False)
    assert line.hashes == {} and line.config_settings == {}
