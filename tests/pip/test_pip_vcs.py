"""URL requirements are never swapped: ``git+`` URLs are cloned, resolved and built; others refused.

Real git repositories are made in tmp_path (the in-tree tiny PEP 517 backend of tests/build, so
builds work offline), installed with ``git+file://`` URLs, and compared with real pip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from forge_store.errors import UnsupportedUrl
from forge_store.models import Layer
from forge_store.store import Store
from tests.conftest import run_py
from tests.support.index_server import LocalIndex
from tests.support.wheels import make_wheel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build"))
from build_support import backend_log, make_project

Pip = Any

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hermetic_pip: None) -> None:
    for name in ("TINY_BACKEND_FAIL", "TINY_BACKEND_EXTRA_REQUIRES", "TINY_BACKEND_LOG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key, value in {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }.items():
        monkeypatch.setenv(key, value)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def set_version(project: Path, version: str) -> None:
    meta = json.loads((project / "_backend" / "tiny.json").read_text())
    meta["version"] = version
    (project / "_backend" / "tiny.json").write_text(json.dumps(meta))
    (project / "src" / "tiny_pkg" / "__init__.py").write_text(f'VERSION = "{version}"\n')


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, Any]:
    """A repo: 1.0 (tag v1, annotated tag a1), 2.0 on branch feature, 3.0 on main (HEAD)."""
    root = make_project(tmp_path / "repo")
    git(root, "init", "-q", "-b", "main")
    first = commit(root, "1.0")
    git(root, "tag", "v1")
    git(root, "tag", "-a", "a1", "-m", "annotated")
    git(root, "checkout", "-q", "-b", "feature")
    set_version(root, "2.0")
    second = commit(root, "2.0")
    git(root, "checkout", "-q", "main")
    set_version(root, "3.0")
    third = commit(root, "3.0")
    return {"path": root, "url": f"git+{root.as_uri()}", "v1": first, "feature": second, "main": third}


def local(store: Store, env: str) -> dict[str, str]:
    return {d.name: d.version for d in store.visible(env) if d.layer is Layer.LOCAL}


def direct_url(store: Store, env: str, dist: str = "tiny_pkg") -> dict[str, Any]:
    site = store.env(env).site_packages
    (info,) = site.glob(f"{dist}-*.dist-info")
    data: dict[str, Any] = json.loads((info / "direct_url.json").read_text())
    return data


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    ("suffix", "version", "key", "requested"),
    [
        ("", "3.0", "main", None),
        ("@v1", "1.0", "v1", "v1"),
        ("@a1", "1.0", "v1", "a1"),  # an annotated tag: the commit, not the tag object
        ("@feature", "2.0", "feature", "feature"),
        ("@main", "3.0", "main", "main"),
        ("@{v1}", "1.0", "v1", "{v1}"),  # a full commit hash
        ("@{v1:9}", "1.0", "v1", "{v1:9}"),  # a short commit hash
    ],
)
def test_install_git_revisions(
    store: Store,
    pip: Pip,
    repo: dict[str, Any],
    suffix: str,
    version: str,
    key: str,
    requested: str | None,
) -> None:
    commits = {"v1": repo["v1"], "v1:9": repo["v1"][:9]}
    suffix = suffix.format(**commits)
    env = store.create_env("e")
    r = pip("install", "--env", "e", "--no-index", f"tiny-pkg @ {repo['url']}{suffix}")
    assert r.code == 0, r.err
    assert local(store, "e") == {"tiny-pkg": version}
    assert run_py(env.python, "import tiny_pkg; print(tiny_pkg.VERSION)").stdout.strip() == version
    record = direct_url(store, "e")
    vcs_info: dict[str, str] = {"vcs": "git", "commit_id": repo[key]}
    if requested is not None:
        vcs_info["requested_revision"] = requested.format(**commits)
    assert record == {"url": repo["path"].as_uri(), "vcs_info": vcs_info}
    line = f"tiny-pkg @ {repo['url']}@{repo[key]}\n"
    assert pip("freeze", "--env", "e").out == line
    assert store.export("e").splitlines()[1:] == [line.strip()]


def test_subdirectory_and_bare_egg_lines(store: Store, pip: Pip, tmp_path: Path) -> None:
    root = tmp_path / "mono"
    make_project(root / "pkgs" / "tiny", version="4.0")
    (root / "README").write_text("not a project at the root\n")
    git(root, "init", "-q", "-b", "main")
    sha = commit(root, "mono")
    url = f"git+{root.as_uri()}"
    store.create_env("e")
    reqs = tmp_path / "req.txt"
    reqs.write_text(f"{url}#egg=tiny-pkg&subdirectory=pkgs/tiny\n")
    r = pip("install", "--env", "e", "--no-index", "-r", str(reqs))
    assert r.code == 0, r.err
    assert local(store, "e") == {"tiny-pkg": "4.0"}
    assert direct_url(store, "e") == {
        "url": root.as_uri(),
        "vcs_info": {"vcs": "git", "commit_id": sha},
        "subdirectory": "pkgs/tiny",
    }
    assert pip("freeze", "--env", "e").out == f"tiny-pkg @ {url}@{sha}#subdirectory=pkgs/tiny\n"
    # without the subdirectory there is no project at the root: one clear line, nothing installed
    store.create_env("f")
    r = pip("install", "--env", "f", "--no-index", f"tiny-pkg @ {url}")
    assert r.code != 0
    assert "neither 'setup.py' nor 'pyproject.toml'" in one_error_line(r.err)
    assert local(store, "f") == {}
    # a subdirectory that leaves the checkout is refused before anything is cloned
    for bad in ("../x", "/etc", "pkgs/../../x"):
        r = pip("install", "--env", "f", "--no-index", f"tiny-pkg @ {url}#subdirectory={bad}")
        assert r.code != 0 and "subdirectory" in one_error_line(r.err), r.err
    (root / "escape").symlink_to(tmp_path)
    commit(root, "symlink out")
    r = pip("install", "--env", "f", "--no-index", f"tiny-pkg @ {url}#subdirectory=escape/mono/pkgs/tiny")
    assert r.code != 0 and "not a directory in the repository" in one_error_line(r.err), r.err
    assert local(store, "f") == {}


def test_names_must_match_the_built_metadata(
    store: Store, pip: Pip, repo: dict[str, Any], tmp_path: Path
) -> None:
    store.create_env("e")
    r = pip("install", "--env", "e", "--no-index", f"other @ {repo['url']}")
    assert r.code != 0
    assert "inconsistent name: expected 'other', but metadata has 'tiny-pkg'" in one_error_line(r.err)
    reqs = tmp_path / "req.txt"
    reqs.write_text(f"{repo['url']}#egg=other\n")
    r = pip("install", "--env", "e", "--no-index", "-r", str(reqs))
    assert r.code != 0 and "inconsistent name" in one_error_line(r.err)
    reqs.write_text(f"{repo['url']}#egg=not/a/name\n")
    r = pip("install", "--env", "e", "--no-index", "-r", str(reqs))
    assert r.code != 0 and "non-PEP 508 name" in one_error_line(r.err)
    assert local(store, "e") == {}


def test_second_install_of_a_commit_clones_and_builds_nothing(
    store: Store, pip: Pip, repo: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "backend.log"
    monkeypatch.setenv("TINY_BACKEND_LOG", str(log))
    url = f"tiny-pkg @ {repo['url']}@{repo['v1']}"
    store.create_env("e")
    assert pip("install", "--env", "e", "--no-index", url).code == 0
    assert backend_log(log).count("build_wheel") == 1
    # the repository disappears: a pinned commit is served from the built-wheel cache
    repo["path"].rename(tmp_path / "gone")
    store.create_env("f")
    r = pip("install", "--env", "f", "--no-index", url)
    assert r.code == 0, r.err
    assert local(store, "f") == {"tiny-pkg": "1.0"}
    assert direct_url(store, "f")["vcs_info"] == {
        "vcs": "git",
        "commit_id": repo["v1"],
        "requested_revision": repo["v1"],
    }
    assert backend_log(log).count("build_wheel") == 1
    # a branch must be re-resolved, and its repository is gone: a clear error, not a stale guess
    store.create_env("g")
    r = pip("install", "--env", "g", "--no-index", f"tiny-pkg @ {repo['url']}@main")
    assert r.code != 0 and "git could not list the refs" in one_error_line(r.err), r.err
    assert local(store, "g") == {}


def test_mirrors_live_in_the_cache_and_purge_clears_them(
    store: Store, pip: Pip, repo: dict[str, Any]
) -> None:
    store.create_env("e")
    assert pip("install", "--env", "e", "--no-index", f"tiny-pkg @ {repo['url']}@{repo['v1'][:8]}").code == 0
    mirrors = store.home.cache / "vcs" / "git"
    assert [p.name for p in mirrors.iterdir() if p.is_dir()], "a short hash is resolved in a mirror"
    assert "VCS mirrors location" in pip("cache", "info").out
    assert pip("cache", "purge").code == 0
    assert not mirrors.exists()


def test_branch_reinstall_fetches_new_commits(
    store: Store, pip: Pip, repo: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "backend.log"
    monkeypatch.setenv("TINY_BACKEND_LOG", str(log))
    url = f"tiny-pkg @ {repo['url']}@main"
    store.create_env("e")
    assert pip("install", "--env", "e", "--no-index", url).code == 0
    store.create_env("f")
    assert pip("install", "--env", "f", "--no-index", url).code == 0  # same commit: a cache hit
    assert backend_log(log).count("build_wheel") == 1
    set_version(repo["path"], "5.0")
    new = commit(repo["path"], "5.0")
    store.create_env("g")
    assert pip("install", "--env", "g", "--no-index", url).code == 0
    assert local(store, "g") == {"tiny-pkg": "5.0"}
    assert direct_url(store, "g")["vcs_info"]["commit_id"] == new
    # a short hash of the new commit is found by fetching into the mirror
    store.create_env("h")
    assert pip("install", "--env", "h", "--no-index", f"tiny-pkg @ {repo['url']}@{new[:10]}").code == 0
    assert local(store, "h") == {"tiny-pkg": "5.0"}


def test_a_deleted_branch_is_not_served_from_a_stale_mirror(
    store: Store, pip: Pip, repo: dict[str, Any]
) -> None:
    store.create_env("e")
    # a short hash fills the mirror, with every branch of the day (feature included)
    assert pip("install", "--env", "e", "--no-index", f"tiny-pkg @ {repo['url']}@{repo['v1'][:8]}").code == 0
    git(repo["path"], "branch", "-q", "-D", "feature")
    r = pip("install", "--env", "e", "--no-index", f"tiny-pkg @ {repo['url']}@feature")
    assert r.code != 0 and "did not find branch, tag or commit 'feature'" in one_error_line(r.err), r.err
    assert local(store, "e") == {"tiny-pkg": "1.0"}


def test_unknown_revision_is_one_clear_line(store: Store, pip: Pip, repo: dict[str, Any]) -> None:
    store.create_env("e")
    for rev in ("nope", "0" * 40, "deadbee"):
        r = pip("install", "--env", "e", "--no-index", f"tiny-pkg @ {repo['url']}@{rev}")
        assert r.code != 0, rev
        line = one_error_line(r.err)
        assert repr(rev) in line or rev in line, line
    r = pip("install", "--env", "e", "--no-index", f"tiny-pkg @ {repo['url']}@")
    assert r.code != 0 and "empty revision" in one_error_line(r.err)
    assert local(store, "e") == {}


def index_with_impostor(root: Path) -> LocalIndex:
    """An index that offers a project named like the git requirement (the old bug installed it)."""
    index = LocalIndex(root / "index")
    index.add(make_wheel(root / "src", "tiny-pkg", "9.0"))
    index.add(make_wheel(root / "src", "hgpkg", "9.0"))
    index.write()
    return index


def test_an_index_project_never_replaces_a_url_requirement(
    store: Store, pip: Pip, repo: dict[str, Any], tmp_path: Path
) -> None:
    index = index_with_impostor(tmp_path / "idx")
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", index.file_url, f"tiny-pkg @ {repo['url']}@v1")
    assert r.code == 0, r.err
    assert local(store, "e") == {"tiny-pkg": "1.0"}
    for url in (
        "hg+https://example.invalid/repo",
        "svn+https://example.invalid/repo/trunk",
        "bzr+https://example.invalid/repo",
        "foo://example.invalid/tiny_pkg-9.0-py3-none-any.whl",
        "ftp://example.invalid/tiny_pkg-9.0-py3-none-any.whl",
        "https://example.invalid/not-a-dist",
        "git+ext::sh -c touch% /tmp/pwned",
    ):
        store.create_env("f")
        r = pip("install", "--env", "f", "-i", index.file_url, f"tiny-pkg @ {url}")
        assert r.code != 0, (url, r.out)
        assert len([line for line in r.err.splitlines() if line.startswith("ERROR: ")]) == 1, r.err
        assert "Traceback" not in r.err
        assert local(store, "f") == {}, url
        store.remove_env("f")


@pytest.mark.parametrize("scheme", ["hg", "svn", "bzr"])
def test_other_vcs_refused_on_bare_lines(store: Store, pip: Pip, tmp_path: Path, scheme: str) -> None:
    index = index_with_impostor(tmp_path / "idx")
    store.create_env("e")
    reqs = tmp_path / "req.txt"
    reqs.write_text(f"{scheme}+https://example.invalid/repo#egg=hgpkg\n")
    r = pip("install", "--env", "e", "-i", index.file_url, "-r", str(reqs))
    assert r.code != 0
    assert "not supported" in one_error_line(r.err)
    assert local(store, "e") == {}


def test_editable_vcs_is_a_real_clone_under_env_src(
    store: Store, pip: Pip, repo: dict[str, Any], tmp_path: Path
) -> None:
    env = store.create_env("e")
    r = pip("install", "--env", "e", "--no-index", "-e", f"{repo['url']}@feature#egg=tiny-pkg")
    assert r.code == 0, r.err
    clone = env.path / "src" / "tiny-pkg"
    assert git(clone, "rev-parse", "HEAD") == repo["feature"]
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD") == "feature"  # a branch tracks origin's
    assert local(store, "e") == {"tiny-pkg": "2.0"}
    assert direct_url(store, "e") == {"url": clone.as_uri(), "dir_info": {"editable": True}}
    (clone / "src" / "tiny_pkg" / "__init__.py").write_text('VERSION = "edited"\n')
    assert run_py(env.python, "import tiny_pkg; print(tiny_pkg.VERSION)").stdout.strip() == "edited"
    # pip freeze's line for an editable git clone
    assert pip("freeze", "--env", "e").out == f"-e {repo['url']}@{repo['feature']}#egg=tiny_pkg\n"
    # the same requirement file line again, on another revision: the clone is fetched and switched
    git(clone, "checkout", "-q", "--", ".")
    reqs = tmp_path / "req.txt"
    reqs.write_text(f"-e {repo['url']}@v1#egg=tiny-pkg\n")
    r = pip("install", "--env", "e", "--no-index", "-r", str(reqs))
    assert r.code == 0, r.err
    assert git(clone, "rev-parse", "HEAD") == repo["v1"]
    assert local(store, "e") == {"tiny-pkg": "1.0"}


def test_editable_vcs_errors(store: Store, pip: Pip, repo: dict[str, Any], tmp_path: Path) -> None:
    env = store.create_env("e")
    r = pip("install", "--env", "e", "--no-index", "-e", repo["url"])
    assert r.code != 0 and "please specify one with #egg=" in one_error_line(r.err)
    r = pip("install", "--env", "e", "--no-index", "-e", f"{repo['url']}#egg=other")
    assert r.code != 0 and "inconsistent name" in one_error_line(r.err)
    assert not (env.path / "src" / "other").exists()
    (env.path / "src" / "tiny-pkg").mkdir(parents=True)
    r = pip("install", "--env", "e", "--no-index", "-e", f"{repo['url']}#egg=tiny-pkg")
    assert r.code != 0 and "is not a git clone of" in one_error_line(r.err)
    r = pip("install", "--env", "e", "--no-index", "-e", "hg+https://example.invalid/x#egg=tiny-pkg")
    assert r.code != 0 and "Mercurial URLs are not supported" in one_error_line(r.err)
    assert local(store, "e") == {}


def test_vcs_and_hash_checking_mode(store: Store, pip: Pip, repo: dict[str, Any], tmp_path: Path) -> None:
    store.create_env("e")
    r = pip("install", "--env", "e", "--no-index", "--require-hashes", f"tiny-pkg @ {repo['url']}@v1")
    assert r.code != 0 and "version control" in one_error_line(r.err)
    assert local(store, "e") == {}


def test_url_requirement_conflicting_with_a_named_one(
    store: Store, pip: Pip, repo: dict[str, Any], tmp_path: Path
) -> None:
    index = index_with_impostor(tmp_path / "idx")
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", index.file_url, f"tiny-pkg @ {repo['url']}@v1", "tiny-pkg==9.0")
    assert r.code != 0
    # pip's shape: "Cannot install tiny-pkg 1.0 (from git+...) and tiny-pkg==9.0 because ..."
    shown = f"tiny-pkg 1.0 (from {repo['url']}@v1)"
    assert f"Cannot install {shown} and tiny-pkg==9.0 because" in r.err, r.err
    assert f"The user requested {shown}\n" in r.err and "The user requested tiny-pkg==9.0" in r.err
    assert "Traceback" not in r.err
    assert local(store, "e") == {}


def test_archive_urls_install_exactly_that_file(store: Store, pip: Pip, tmp_path: Path) -> None:
    import hashlib

    index = index_with_impostor(tmp_path / "idx")
    wheel = make_wheel(tmp_path / "direct", "tiny-pkg", "1.5")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", index.file_url, f"tiny-pkg @ {wheel.as_uri()}#sha256={sha}")
    assert r.code == 0, r.err
    assert local(store, "e") == {"tiny-pkg": "1.5"}
    assert direct_url(store, "e")["url"] == wheel.as_uri()
    assert pip("freeze", "--env", "e").out == f"tiny-pkg @ {wheel.as_uri()}#sha256={sha}\n"
    store.create_env("f")
    r = pip("install", "--env", "f", "-i", index.file_url, f"tiny-pkg @ {wheel.as_uri()}#sha256={'0' * 64}")
    assert r.code != 0 and "Traceback" not in r.err
    assert local(store, "f") == {}


# -- parsing, against pip's own rules ---------------------------------------------------------------


PIP_CASES = [
    "git+https://host/org/repo",
    "git+https://host/org/repo.git@v1.0",
    "git+https://user@host/org/repo@refs/pull/1/head",
    "git+ssh://git@host/org/repo.git@main",
    "git+http://host:8080/repo@0123456789abcdef0123456789abcdef01234567",
    "git+file:///tmp/some/repo@feature/x",
    "git+git://host/repo@v2",
    "git+git@host:org/repo.git@v3",
    "git+https://host/repo@v1#egg=name&subdirectory=sub/dir",
]


@pytest.mark.parametrize("url", PIP_CASES)
def test_parse_matches_pip(url: str) -> None:
    from pip._internal.models.link import Link
    from pip._internal.vcs.git import Git

    from forge_pip.vcs import parse_vcs_url

    link = Link(url)
    want_url, want_rev, _auth = Git.get_url_rev_and_auth(link.url_without_fragment)
    got = parse_vcs_url(url)
    assert (got.url, got.rev) == (want_url, want_rev)
    assert got.subdirectory == link.subdirectory_fragment
    assert got.egg == link.egg_fragment


@pytest.mark.parametrize(
    "url",
    [
        "git+-oProxyCommand=touch%20/tmp/x@host:repo",
        "git+ssh://-oProxyCommand=touch%20x/repo",
        "git+https://host/repo@-x",
        "git+ext::sh -c evil",
        "git+fd::17/repo",
        "hg+https://host/repo",
        "svn+ssh://host/repo",
        "bzr+lp:project",
        "git+https://host/repo@v1#subdirectory=../up",
        "git+https:///no-host",
    ],
)
def test_parse_refuses(url: str) -> None:
    from forge_pip.vcs import parse_vcs_url

    with pytest.raises(UnsupportedUrl):
        parse_vcs_url(url)


# -- side by side with real pip -------------------------------------------------------------------


def test_same_result_as_pip(store: Store, pip: Pip, repo: dict[str, Any], tmp_path: Path) -> None:
    # pip 23.2's packaging rejects "name @ git+file:///..." (no host): use pip's bare-line form
    url = f"{repo['url']}@v1#egg=tiny-pkg"
    target = tmp_path / "pip-target"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(target),
            url,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (pip_info,) = target.glob("tiny_pkg-*.dist-info")
    store.create_env("e")
    assert pip("install", "--env", "e", "--no-index", url).code == 0
    site = store.env("e").site_packages
    (forge_info,) = site.glob("tiny_pkg-*.dist-info")
    assert forge_info.name == pip_info.name
    assert json.loads((forge_info / "direct_url.json").read_text()) == json.loads(
        (pip_info / "direct_url.json").read_text()
    )


def test_same_editable_clone_as_pip(store: Store, pip: Pip, repo: dict[str, Any], tmp_path: Path) -> None:
    url = f"{repo['url']}@feature#egg=tiny-pkg"
    src, target = tmp_path / "pip-src", tmp_path / "pip-target"
    args = ["install", "-q", "--no-index", "--no-build-isolation", "--src", str(src), "--target", str(target)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args, "-e", url], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    (pip_info,) = target.glob("tiny_pkg-*.dist-info")
    forge_env = store.create_env("e")
    assert pip("install", "--env", "e", "--no-index", "-e", url).code == 0
    (forge_info,) = forge_env.site_packages.glob("tiny_pkg-*.dist-info")
    assert forge_info.name == pip_info.name
    pip_record = json.loads((pip_info / "direct_url.json").read_text())
    forge_record = json.loads((forge_info / "direct_url.json").read_text())
    assert pip_record == {"url": (src / "tiny-pkg").as_uri(), "dir_info": {"editable": True}}
    assert forge_record == {
        "url": (forge_env.path / "src" / "tiny-pkg").as_uri(),
        "dir_info": {"editable": True},
    }
    for clone in (src / "tiny-pkg", forge_env.path / "src" / "tiny-pkg"):
        assert git(clone, "rev-parse", "HEAD") == repo["feature"]
        assert git(clone, "rev-parse", "--abbrev-ref", "HEAD") == "feature"


def test_http_archive_url_is_that_file_and_its_hash_is_checked(
    store: Store, pip: Pip, tmp_path: Path
) -> None:
    import hashlib

    from tests.support.index_server import serve

    index = index_with_impostor(tmp_path / "idx")
    served = tmp_path / "served"
    wheel = make_wheel(served, "tiny-pkg", "1.5")
    sdist_dir = make_project(tmp_path / "sdist-src" / "tiny_pkg-1.6", version="1.6")
    import tarfile

    sdist = served / "tiny_pkg-1.6.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        tar.add(sdist_dir, arcname="tiny_pkg-1.6")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with serve(served) as server:
        store.create_env("e")
        url = f"{server.url}/{wheel.name}"
        r = pip("install", "--env", "e", "-i", index.file_url, f"tiny-pkg @ {url}#sha256={sha}")
        assert r.code == 0, r.err
        assert local(store, "e") == {"tiny-pkg": "1.5"}
        assert pip("freeze", "--env", "e").out == f"tiny-pkg @ {url}#sha256={sha}\n"
        store.create_env("f")
        r = pip("install", "--env", "f", "-i", index.file_url, f"tiny-pkg @ {url}#sha256={'1' * 64}")
        assert r.code != 0 and "Traceback" not in r.err
        assert local(store, "f") == {}
        r = pip("install", "--env", "f", "-i", index.file_url, f"tiny-pkg @ {server.url}/{sdist.name}")
        assert r.code == 0, r.err
        assert local(store, "f") == {"tiny-pkg": "1.6"}
        r = pip("install", "--env", "f", "-i", index.file_url, f"tiny-pkg @ {server.url}/missing.whl")
        assert r.code != 0 and "Traceback" not in r.err
        assert local(store, "f") == {"tiny-pkg": "1.6"}


def test_url_dependencies_are_never_swapped_for_index_projects(
    store: Store, pip: Pip, repo: dict[str, Any], tmp_path: Path
) -> None:
    index = LocalIndex(tmp_path / "idx" / "index")
    index.add(make_wheel(tmp_path / "idx" / "src", "tiny-pkg", "9.0"))
    index.add(
        make_wheel(tmp_path / "idx" / "src", "needs-git", "1.0", requires=[f"tiny-pkg @ {repo['url']}"])
    )
    index.add(make_wheel(tmp_path / "idx" / "src", "needs-hg", "1.0", requires=["tiny-pkg @ hg+https://h/r"]))
    index.write()
    store.create_env("e")
    for name in ("needs-git", "needs-hg"):
        r = pip("install", "--env", "e", "-i", index.file_url, name)
        assert r.code != 0, r.out
        assert "tiny-pkg @ " in one_error_line(r.err)
        assert local(store, "e") == {}


def test_bare_url_lines_of_unusable_schemes(store: Store, pip: Pip, tmp_path: Path) -> None:
    index = index_with_impostor(tmp_path / "idx")
    store.create_env("e")
    reqs = tmp_path / "req.txt"
    for line in ("ftp://example.invalid/tiny_pkg-9.0-py3-none-any.whl", "https://example.invalid/x/"):
        reqs.write_text(line + "\n")
        r = pip("install", "--env", "e", "-i", index.file_url, "-r", str(reqs))
        assert r.code != 0, line
        one_error_line(r.err)
        assert local(store, "e") == {}


def test_passwords_in_git_urls_are_never_shown(store: Store, pip: Pip) -> None:
    store.create_env("e")
    # a loopback port nobody listens on: git fails at once
    r = pip("install", "--env", "e", "--no-index", "tiny-pkg @ git+https://user:s3cret@127.0.0.1:9/repo@main")
    assert r.code != 0
    assert "s3cret" not in r.err + r.out and "127.0.0.1:9/repo" in one_error_line(r.err), r.err


def test_direct_url_record_redacts_like_pip(tmp_path: Path) -> None:
    from pip._internal.models.direct_url import DirectUrl, VcsInfo

    from forge_pip.vcs import VcsWheel, parse_vcs_url

    for url in (
        "git+https://user:pw@host/repo@v1",
        "git+ssh://git@host/repo@v1",
        "git+https://${TOKEN}@host/repo@v1#subdirectory=a/b",
    ):
        source = parse_vcs_url(url)
        mine = json.loads(VcsWheel(source, "a" * 40, tmp_path / "x.whl", cached=False).direct_url())
        theirs = DirectUrl(
            url=source.url,
            info=VcsInfo(vcs="git", commit_id="a" * 40, requested_revision=source.rev),
            subdirectory=source.subdirectory,
        ).to_dict()
        assert mine == theirs


def test_submodules_are_checked_out_with_gits_transport_rules(
    store: Store, pip: Pip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "__init__.py").write_text('VERSION = "from-submodule"\n')
    git(sub, "init", "-q", "-b", "main")
    commit(sub, "sub")
    root = make_project(tmp_path / "super")
    shutil.rmtree(root / "src" / "tiny_pkg")
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub.as_uri(), "src/tiny_pkg")
    commit(root, "with a submodule")
    url = f"tiny-pkg @ git+{root.as_uri()}"
    store.create_env("e")
    # a repository's file:// submodule is refused by default (git's rule since CVE-2022-39253)
    r = pip("install", "--env", "e", "--no-index", url)
    assert r.code != 0 and "submodules" in one_error_line(r.err), r.err
    assert local(store, "e") == {}
    # the user may allow it, as git documents
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file")
    env = store.env("e")
    r = pip("install", "--env", "e", "--no-index", url)
    assert r.code == 0, r.err
    assert run_py(env.python, "import tiny_pkg; print(tiny_pkg.VERSION)").stdout.strip() == "from-submodule"
