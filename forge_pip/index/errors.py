"""Errors the index client raises on purpose: unreachable indexes, bad hashes, offline misses.

Every message names the URL with its credentials redacted (see :func:`forge_pip.index.urls.redact_text`),
so an error can be printed or logged as is.
"""

from __future__ import annotations

from forge_store.errors import ExitCode, ForgeError, IntegrityError, NotFoundError

from .urls import redact_text


class IndexClientError(ForgeError):
    """Base of the index client's errors."""

    reference = "index-error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(redact_text(message), hint=None if hint is None else redact_text(hint))


class IndexUnreachable(IndexClientError):
    """An index, find-links page or file could not be reached (connection error, timeout, 5xx)."""

    reference = "index-unreachable"
    exit_code = ExitCode.NETWORK

    def __init__(self, url: str, cause: str, *, hint: str | None = None) -> None:
        self.url = redact_text(url)
        self.cause = " ".join(redact_text(cause).split())
        super().__init__(
            f"could not reach {self.url}: {self.cause}",
            hint=hint
            or "check the URL, your network and proxy settings (or use --offline with a warm cache)",
        )


class HttpStatusError(IndexClientError):
    """A server answered a download or metadata request with an unexpected status (401, 403, 404...)."""

    reference = "http-status-error"
    exit_code = ExitCode.NETWORK

    def __init__(self, url: str, status: int, reason: str) -> None:
        self.url = redact_text(url)
        self.status = status
        hint = None
        if status in (401, 403):
            hint = (
                "the server wants credentials: put them in the URL (https://user:token@host/...) or ~/.netrc"
            )
        super().__init__(f"{self.url} answered HTTP {status} {reason}".rstrip(), hint=hint)


class InsecureOrigin(IndexClientError):
    """A plain ``http://`` URL on a host that is neither loopback nor trusted."""

    reference = "insecure-origin"
    exit_code = ExitCode.NETWORK

    def __init__(self, url: str, host: str) -> None:
        self.url = redact_text(url)
        super().__init__(
            f"refusing plain HTTP to {self.url}: {host} is not a trusted host",
            hint=f"use https, or pass --trusted-host {host} if you trust this network",
        )


class HashMismatch(IntegrityError):
    """A downloaded file (or PEP 658 metadata file) does not have the digest the index announced."""

    reference = "hash-mismatch"
    exit_code = ExitCode.INTEGRITY

    def __init__(self, filename: str, algorithm: str, expected: str, actual: str, *, url: str = "") -> None:
        self.filename = filename
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual
        where = f" from {redact_text(url)}" if url else ""
        super().__init__(
            f"{filename}{where} has {algorithm} {actual}, expected {expected}",
            hint="the file changed on the index or was corrupted in transit; nothing was kept",
        )


class RequirementHashMismatch(IntegrityError):
    """A file does not have any digest that ``--hash`` allowed for it (pip's "THESE PACKAGES DO NOT
    MATCH THE HASHES FROM THE REQUIREMENTS FILE")."""

    reference = "requirement-hash-mismatch"
    exit_code = ExitCode.INTEGRITY

    def __init__(self, filename: str, url: str, expected: dict[str, list[str]], got: dict[str, str]) -> None:
        self.filename = filename
        self.url = redact_text(url)
        self.expected = {a: sorted(d) for a, d in sorted(expected.items())}
        """The allowed digests, by algorithm."""
        self.got = dict(sorted(got.items()))
        """The file's real digest for each algorithm that ``--hash`` named."""
        shown = ", ".join(f"{a}:{d}" for a, d in self.got.items())
        super().__init__(
            f"{filename} does not match any --hash given for it (got {shown})",
            hint="THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE",
        )

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "file": self.filename, "expected": self.expected, "got": self.got}


class OfflineError(IndexClientError, NotFoundError):
    """Offline mode was asked for and the file is neither local nor in the cache."""

    reference = "offline-not-cached"
    exit_code = ExitCode.NETWORK

    def __init__(self, url: str) -> None:
        self.url = redact_text(url)
        super().__init__(
            f"offline mode: {self.url} is not in the download cache",
            hint="run once without --offline to fill the cache, or point --find-links at a local directory",
        )


class UnsafeFilename(IndexClientError, ValueError):
    """An index offered a file name that would escape the destination directory."""

    reference = "unsafe-filename"
    exit_code = ExitCode.INTEGRITY
