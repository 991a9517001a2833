"""Credential handling, redaction and host rules."""

from __future__ import annotations

from forge_pip.index.errors import IndexUnreachable
from forge_pip.index.http import _bypasses_proxy
from forge_pip.index.urls import netloc_key, redact_text, redact_url, split_auth
from forge_store.hosts import host_matches, is_loopback


def test_redaction() -> None:
    assert redact_url("https://user:s3cret@host.test/simple") == "https://user:****@host.test/simple"
    assert redact_url("https://tok3n@host.test/simple") == "https://****@host.test/simple"
    assert redact_url("https://host.test/a@b") == "https://host.test/a@b"
    text = "failed: https://u:pw@a.test/x and http://k@b.test/y"
    assert "pw" not in redact_text(text) and "k@" not in redact_text(text)


def test_error_messages_are_redacted() -> None:
    error = IndexUnreachable(
        "https://alice:hunter2@idx.test/simple/", "refused (https://alice:hunter2@idx.test)"
    )
    assert "hunter2" not in error.message and "hunter2" not in str(error) and "hunter2" not in repr(error)
    assert "idx.test" in error.message


def test_split_auth() -> None:
    assert split_auth("https://u%40x:p%3Aw@h.test:8443/s") == ("https://h.test:8443/s", ("u@x", "p:w"))
    assert split_auth("https://h.test/s") == ("https://h.test/s", None)
    assert split_auth("https://token@h.test/s") == ("https://h.test/s", ("token", ""))
    assert netloc_key("https://H.test/s") == "h.test:443"


def test_hosts() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("[::1]")
    assert not is_loopback("example.test")
    assert host_matches("mirror.test", 8080, ("mirror.test",))
    assert host_matches("mirror.test", 8080, ("mirror.test:8080",))
    assert not host_matches("mirror.test", 80, ("mirror.test:8080",))
    assert _bypasses_proxy("a.corp.test", ".corp.test") and _bypasses_proxy("x.test", "*")
    assert _bypasses_proxy("h.test", "other.test, h.test:8080") and not _bypasses_proxy(
        "h.test", "other.test"
    )
