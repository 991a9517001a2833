"""Version control requirements (``name @ git+https://host/repo@v1.0#subdirectory=pkg``).

A URL requirement is that artifact or nothing: it is never replaced by an index project of the
same name. Only git is supported; ``hg+``, ``svn+`` and ``bzr+`` URLs are refused.

The flow, for one requirement::

    url = parse_vcs_url("git+https://host/repo@v1.0#subdirectory=pkg")   # pip's rules, validated
    built = build_vcs(url, builder=builder, cache_dir=home.cache / "vcs", work_dir=tmp)
    built.commit, built.wheel, built.direct_url()                        # PEP 610 vcs_info

1. The revision becomes a commit: a full hash is taken as written (no git command at all);
   a branch, a tag (branches first, as pip) or a ``refs/...`` name is looked up with
   ``git ls-remote``; a short hash is resolved in the mirror (step 3); anything else is an error
   (never a ref that only a stale mirror still has).
2. The built-wheel cache is keyed by (url, commit, subdirectory): a hit clones and builds nothing.
3. Otherwise the repository is mirrored once under ``<cache>/git/<hash of url>`` (``git clone
   --mirror``; a later miss runs ``git fetch``), the commit is checked out into a throwaway work
   tree (submodules too, as pip does), and the project is built through PEP 517.

Every git command runs without a shell, with ``GIT_TERMINAL_PROMPT=0``, ``--`` before the URL,
and the transports limited to https, http, ssh, git and (asked for by the user, not by a
submodule: git's own default since CVE-2022-39253) file; remote helpers such as ``ext::`` are
refused (a user's ``GIT_ALLOW_PROTOCOL`` overrides this, as git documents). URLs, revisions and
hosts that start with ``-`` are refused before git sees them, and ``#subdirectory=`` must stay
inside the checkout (``..``, absolute paths and symlinks that leave it are refused). Passwords in
URLs never reach a message or ``direct_url.json`` (pip's redaction).

Editable requirements (``-e git+URL#egg=name``) are real clones at ``ENV/src/<name>``, as pip's
``<venv>/src``: see :func:`checkout_editable`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from forge_pip.urlkinds import OTHER_VCS, is_vcs_url, refuse_unusable_url, url_scheme
from forge_store.errors import UnsupportedUrl, VcsError
from forge_store.records import record

if TYPE_CHECKING:
    from forge_pip.build import Builder

__all__ = [
    "VcsUrl",
    "VcsWheel",
    "build_vcs",
    "checkout_editable",
    "editable_requirement",
    "is_vcs_url",
    "parse_vcs_url",
    "refuse_unusable_url",
]

_GIT_TRANSPORTS = ("https", "http", "ssh", "file", "git")
_FULL_HASH = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_SHORT_HASH = re.compile(r"^[0-9a-f]{4,64}$")
_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_ENV_VAR_AUTH = re.compile(r"^\$\{[A-Za-z0-9-_]+\}(:\$\{[A-Za-z0-9-_]+\})?$")
# Transports: the URL's own (file included) but no remote helpers (ext::, fd::); "user" keeps git's
# default for file: allowed when the user asked for it, not for a repository's submodules
# (CVE-2022-39253). These -c settings reach submodule commands too; GIT_ALLOW_PROTOCOL overrides them.
_PROTOCOLS = (
    *("-c", "protocol.allow=never", "-c", "protocol.file.allow=user"),
    *("-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always"),
    *("-c", "protocol.ssh.allow=always", "-c", "protocol.git.allow=always"),
)


@record(frozen=True, slots=True)
class VcsUrl:
    """A parsed ``git+...`` URL (pip's ``Link`` + ``Git.get_url_rev_and_auth`` rules)."""

    text: str
    """The URL as written, ``git+`` prefix, ``@rev`` and fragment included."""
    url: str
    """What git is given: no ``git+``, no ``@rev``, no fragment (``https://host/repo``)."""
    rev: str | None
    """The part after the last ``@`` of the path (a branch, tag, commit or ``refs/...``), if any."""
    subdirectory: str | None
    egg: str | None
    """The legacy ``#egg=name`` (the project name of a bare URL line)."""
    vcs: str = "git"

    @property
    def key_url(self) -> str:
        """``git+URL[@rev][#subdirectory=...]``: one requirement's identity (no ``#egg``, no password)."""
        text = f"{self.vcs}+{_redact(self.url)}" + (f"@{self.rev}" if self.rev else "")
        return text + (f"#subdirectory={self.subdirectory}" if self.subdirectory else "")


@record(frozen=True, slots=True)
class VcsWheel:
    """The wheel built from one commit of a VCS URL (``cached``: nothing was cloned or built)."""

    source: VcsUrl
    commit: str
    wheel: Path
    cached: bool

    def direct_url(self) -> str:
        """PEP 610 ``direct_url.json``: ``vcs_info`` with the requested revision and the commit."""
        info: dict[str, str] = {"vcs": self.source.vcs, "commit_id": self.commit}
        if self.source.rev:
            info["requested_revision"] = self.source.rev
        data: dict[str, object] = {"url": _redact(self.source.url), "vcs_info": info}
        if self.source.subdirectory:
            data["subdirectory"] = self.source.subdirectory
        return json.dumps(data, sort_keys=True)


def _fragment_value(fragment: str, key: str) -> str | None:
    match = re.search(rf"(?:^|&){key}=([^&]*)", fragment)
    return urllib.parse.unquote(match.group(1)) if match else None


def _check_subdirectory(value: str, text: str) -> str:
    path = PurePosixPath(value)
    if not value or value.startswith("/") or "\\" in value or ".." in path.parts or "\0" in value:
        raise UnsupportedUrl(
            f"{text}: #subdirectory={value!r} must be a relative path inside the repository",
        )
    return path.as_posix()


def parse_vcs_url(text: str) -> VcsUrl:
    """Parse a ``git+`` URL by pip's rules; refuse other VCS and anything git could take as an option."""
    text = text.strip()
    shown = _redact(text)
    vcs, plus, transport = url_scheme(text).partition("+")
    if plus and vcs in OTHER_VCS:
        raise UnsupportedUrl(
            f"{OTHER_VCS[vcs]} URLs are not supported by Forge: {shown}",
            hint="Forge clones git repositories only: build a wheel of it and install that",
        )
    if not text.lower().startswith("git+"):
        raise UnsupportedUrl(f"not a git URL: {shown}")
    base, _, fragment = text.partition("#")
    rest = base[len("git+") :]
    stub = "://" not in rest
    if stub:  # pip: git+user@host:path is ssh without a scheme (git wants it that way)
        rest = "ssh://" + rest
    elif transport not in _GIT_TRANSPORTS:
        raise UnsupportedUrl(
            f"Forge cannot clone git+{transport} URLs: {shown}",
            hint="use git+https://, git+ssh://, git+http://, git+git:// or git+file://",
        )
    try:
        parts = urllib.parse.urlsplit(rest)
    except ValueError as exc:
        raise UnsupportedUrl(f"{shown}: not a valid URL: {exc}") from None
    path, rev = parts.path, None
    if "@" in path:
        path, rev = path.rsplit("@", 1)
        if not rev:
            raise UnsupportedUrl(
                f"The URL {shown!r} has an empty revision (after @) which is not supported. "
                "Include a revision after @ or remove @ from the URL."
            )
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    if stub:
        url = url[len("ssh://") :]
    if re.match(r"^[A-Za-z0-9+.-]*::", url):
        raise UnsupportedUrl(f"refusing a git remote-helper URL (transport::address): {shown}")
    host = parts.netloc.rpartition("@")[2]
    if url.startswith("-") or host.startswith("-") or (rev is not None and rev.startswith("-")):
        raise UnsupportedUrl(f"refusing a git URL, host or revision that starts with '-': {shown}")
    if rev is not None and not re.fullmatch(r"[^\s\0~^:?*\[\\]+", rev):
        raise UnsupportedUrl(f"{shown}: {rev!r} is not a valid git revision")
    if (not parts.netloc and parts.scheme != "file") or not path.strip("/"):
        raise UnsupportedUrl(f"{shown}: not a valid git URL (no host or no path)")
    egg = _fragment_value(fragment, "egg")
    if egg is not None and not _PROJECT_NAME.match(egg):
        raise UnsupportedUrl(
            f"{shown} contains an egg fragment with a non-PEP 508 name: {egg!r}",
            hint="use the 'name @ git+URL' syntax and remove the egg fragment",
        )
    sub = _fragment_value(fragment, "subdirectory")
    return VcsUrl(text, url, rev, _check_subdirectory(sub, shown) if sub is not None else None, egg)


def _redact(url: str) -> str:
    """pip's ``DirectUrl.redacted_url``: drop credentials, keep ``git@`` and ``${VAR}`` user info."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    user, host = parts.netloc.split("@", 1)
    if user == "git" or _ENV_VAR_AUTH.match(user):
        return url
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


# -- git ------------------------------------------------------------------------------------------


def _git(args: Sequence[str], *, what: str, url: str, cwd: Path | None = None, check: bool = True) -> str:
    """Run git (no shell, no prompt); raise ``VcsError`` with git's fatal line when it fails.

    ``url`` is for messages only (shown without its password)."""
    url = _redact(url)
    exe = shutil.which("git")
    if exe is None:
        raise VcsError(f"git is needed to install {url}, but it is not installed", hint="install git")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            [exe, *_PROTOCOLS, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise VcsError(f"could not run git to {what} {url}: {exc}") from None
    if check and done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        fatal = [line.split(":", 1)[1].strip() for line in lines if line.startswith(("fatal:", "error:"))]
        reason = fatal[0] if fatal else lines[-1] if lines else f"exit status {done.returncode}"
        raise VcsError(f"git could not {what} {url}: {reason}")
    return done.stdout if done.returncode == 0 else ""


def _ls_remote(url: str) -> dict[str, str]:
    """Ref name -> commit; annotated tags are peeled (``refs/tags/v1`` maps to its commit)."""
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in _git(["ls-remote", "--", url], what="list the refs of", url=url).splitlines():
        sha, _, ref = line.partition("\t")
        if ref.endswith("^{}"):
            peeled[ref[:-3]] = sha.strip()
        elif ref:
            refs[ref.strip()] = sha.strip()
    refs.update(peeled)
    return refs


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Mirror:
    """A bare mirror of one repository under the cache, cloned once and fetched on a miss."""

    def __init__(self, root: Path, url: str) -> None:
        self.url = url
        self.path = root / hashlib.sha256(url.encode()).hexdigest()[:32]
        self._fresh = False

    def ensure(self) -> Path:
        if (self.path / "HEAD").is_file():
            return self.path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".clone-", dir=self.path.parent))
        try:
            _git(
                ["clone", "--mirror", "--quiet", "--", self.url, str(staging / "repo")],
                what="clone",
                url=self.url,
            )
            os.replace(staging / "repo", self.path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._fresh = True
        return self.path

    def fetch(self) -> bool:
        """Update the mirror once per run (a fresh clone is already up to date)."""
        if self._fresh:
            return False
        _git(["fetch", "--quiet", "--prune", "origin"], what="fetch", url=self.url, cwd=self.path)
        self._fresh = True
        return True

    def commit_of(self, rev: str) -> str | None:
        out = _git(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
            what="resolve a revision of",
            url=self.url,
            cwd=self.path,
            check=False,
        )
        return out.strip() or None


def _key(source: VcsUrl, commit: str) -> str:
    parts = (source.vcs, source.url, commit, source.subdirectory or "")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _resolve(source: VcsUrl, mirror: _Mirror) -> str:
    """The commit ``source.rev`` names (see the module doc, step 1)."""
    rev = source.rev
    if rev is not None and _FULL_HASH.match(rev.lower()):
        return rev.lower()
    refs = _ls_remote(source.url)
    if rev is None:
        names = ["HEAD"]
    elif rev.startswith("refs/"):
        names = [rev]
    else:
        names = [f"refs/heads/{rev}", f"refs/tags/{rev}"]
    for name in names:
        if name in refs:
            return refs[name].lower()
    if rev is None:
        raise VcsError(
            f"{_redact(source.url)} has no default branch (HEAD)", hint="name a branch, tag or commit after @"
        )
    commit = None
    if _SHORT_HASH.match(rev.lower()):  # only a hash: a stale mirror may still hold deleted refs
        with _locked(mirror.path.with_suffix(".lock")):
            mirror.ensure()
            commit = mirror.commit_of(rev)
            if commit is None and mirror.fetch():
                commit = mirror.commit_of(rev)
    if commit is None:
        raise VcsError(
            f"did not find branch, tag or commit {rev!r} in {_redact(source.url)}",
            hint="check the revision after @ in the URL",
        )
    return commit.lower()


def _checkout(source: VcsUrl, mirror: _Mirror, commit: str, dest: Path) -> Path:
    """A work tree of ``commit`` at ``dest`` (with submodules); return the project directory."""
    with _locked(mirror.path.with_suffix(".lock")):
        mirror.ensure()
        if mirror.commit_of(commit) is None and mirror.fetch():
            pass
        if mirror.commit_of(commit) is None:
            raise VcsError(
                f"commit {commit} is not in {_redact(source.url)}", hint="check the revision after @"
            )
        _git(
            ["clone", "--quiet", "--no-checkout", "--", str(mirror.path), str(dest)],
            what="check out",
            url=source.url,
        )
    _git(
        ["-c", "advice.detachedHead=false", "checkout", "--quiet", commit],
        what="check out",
        url=source.url,
        cwd=dest,
    )
    if (dest / ".gitmodules").is_file():
        _git(["remote", "set-url", "origin", source.url], what="configure", url=source.url, cwd=dest)
        _git(
            ["submodule", "update", "--init", "--recursive", "--quiet"],
            what="update the submodules of",
            url=source.url,
            cwd=dest,
        )
    return _project_dir(source, dest, commit)


def build_vcs(
    source: VcsUrl,
    *,
    builder: Builder,
    cache_dir: Path,
    work_dir: Path,
    config_settings: Mapping[str, str | list[str]] | None = None,
) -> VcsWheel:
    """Resolve ``source`` to a commit and return its wheel, from the cache or freshly built
    (cached by commit and ``config_settings``)."""
    mirror = _Mirror(cache_dir / source.vcs, source.url)
    commit = _resolve(source, mirror)
    key = _key(source, commit)
    hit = builder.cached(key, config_settings)
    if hit is not None:
        return VcsWheel(source, commit, hit, cached=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    checkout = Path(tempfile.mkdtemp(prefix="vcs-", dir=work_dir))
    try:
        project = _checkout(source, mirror, commit, checkout / "src")
        built = builder.build_wheel(project, cache_as=key, config_settings=config_settings)
    finally:
        shutil.rmtree(checkout, ignore_errors=True)
    return VcsWheel(source, commit, built.path, cached=built.cached)


# -- editable checkouts (pip's ``-e git+URL#egg=name``: a real clone under ENV/src/<name>) ----------


def _project_dir(source: VcsUrl, tree: Path, commit: str) -> Path:
    shown = _redact(source.text)
    project = tree / source.subdirectory if source.subdirectory else tree
    real = project.resolve()
    if not real.is_relative_to(tree.resolve()) or not real.is_dir():
        raise UnsupportedUrl(
            f"{shown}: #subdirectory={source.subdirectory} is not a directory in the repository"
        )
    if not ((real / "pyproject.toml").is_file() or (real / "setup.py").is_file()):
        where = f"{source.subdirectory} of " if source.subdirectory else ""
        raise UnsupportedUrl(
            f"{shown}: {where}commit {commit[:12]} has neither 'setup.py' nor 'pyproject.toml'",
            hint="add #subdirectory=PATH if the project is not at the repository's root",
        )
    return real


def _origin(tree: Path, url: str) -> str | None:
    out = _git(["config", "--get", "remote.origin.url"], what="inspect", url=url, cwd=tree, check=False)
    return out.strip() or None


def _switch(source: VcsUrl, tree: Path) -> str:
    """Check out ``source.rev`` in a clone (a branch tracks origin's, as pip does); return the commit."""
    url, rev = source.url, source.rev
    if rev is None:
        return _git(["rev-parse", "HEAD"], what="inspect", url=url, cwd=tree).strip()
    branch = _git(
        ["rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{rev}^{{commit}}"],
        what="inspect",
        url=url,
        cwd=tree,
        check=False,
    ).strip()
    if branch and not rev.startswith("refs/"):
        _git(
            ["checkout", "--quiet", "-B", rev, "--track", f"origin/{rev}"],
            what="check out",
            url=url,
            cwd=tree,
        )
        return branch
    if rev.startswith("refs/"):
        _git(["fetch", "--quiet", "origin", f"{rev}"], what="fetch", url=url, cwd=tree)
        target = "FETCH_HEAD"
    else:
        target = rev
    commit = _git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{target}^{{commit}}"],
        what="resolve a revision of",
        url=url,
        cwd=tree,
        check=False,
    ).strip()
    if not commit:
        raise VcsError(
            f"did not find branch, tag or commit {rev!r} in {url}",
            hint="check the revision after @ in the URL",
        )
    _git(
        ["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit],
        what="check out",
        url=url,
        cwd=tree,
    )
    return commit


def _submodules(source: VcsUrl, tree: Path) -> None:
    if (tree / ".gitmodules").is_file():
        _git(
            ["submodule", "update", "--init", "--recursive", "--quiet"],
            what="update the submodules of",
            url=source.url,
            cwd=tree,
        )


def checkout_editable(source: VcsUrl, dest: Path) -> tuple[Path, str]:
    """A clone of ``source`` at ``dest`` on ``source.rev`` (pip's ``obtain``); (project dir, commit).

    A new clone is made beside ``dest`` and renamed into place, so a failure leaves nothing. An
    existing clone of the same URL is fetched and switched; any other ``dest`` is refused.
    """
    if dest.exists():
        if not (dest / ".git").exists() or _origin(dest, source.url) != source.url:
            raise VcsError(
                f"{dest} already exists and is not a git clone of {_redact(source.url)}",
                hint="remove or rename that directory, then install again",
            )
        _git(["fetch", "--quiet", "--tags", "origin"], what="fetch", url=source.url, cwd=dest)
        commit = _switch(source, dest)
        _submodules(source, dest)
        return _project_dir(source, dest, commit), commit
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        _git(["clone", "--quiet", "--", source.url, str(staging / "tree")], what="clone", url=source.url)
        commit = _switch(source, staging / "tree")
        _submodules(source, staging / "tree")
        _project_dir(source, staging / "tree", commit)
        os.replace(staging / "tree", dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _project_dir(source, dest, commit), commit


def editable_requirement(project: Path, name: str) -> str | None:
    """pip freeze's ``-e git+URL@commit#egg=name[&subdirectory=...]`` for an editable project in a
    git clone (None when ``project`` is not in one)."""
    url = str(project)
    top = _git(["rev-parse", "--show-toplevel"], what="inspect", url=url, cwd=project, check=False).strip()
    if not top or not project.is_dir():
        return None
    remote = _origin(project, url)
    commit = _git(["rev-parse", "HEAD"], what="inspect", url=url, cwd=project, check=False).strip()
    if remote is None or not commit:
        return None
    if "://" not in remote and not re.match(r"^[^/]+@[^/:]+:", remote):
        remote = Path(remote).resolve().as_uri()  # a local path remote, as pip shows it
    text = f"-e git+{_redact(remote)}@{commit}#egg={name.replace('-', '_')}"
    sub = project.resolve().relative_to(Path(top).resolve()).as_posix()
    return text + (f"&subdirectory={sub}" if sub != "." else "")
