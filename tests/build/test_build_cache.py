"""The built-wheel cache: keys, tag-aware lookups, atomic publishing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from packaging.tags import Tag

from forge_pip.build.cache import BuiltWheelCache, cache_key
from forge_pip.models import TargetPython

PURE = "demo-1.0-py3-none-any.whl"
CP311 = "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
CP312 = "demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"


def _wheel(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(name.encode())
    return directory / name


def test_key_is_the_source_hash_without_settings() -> None:
    digest = hashlib.sha256(b"sdist").hexdigest()
    assert cache_key(digest, None) == cache_key(digest, {}) == digest
    assert cache_key(digest, {"a": "1"}) not in (digest, cache_key(digest, {"a": "2"}))
    assert cache_key(digest, {"a": "1", "b": ["x"]}) == cache_key(digest, {"b": ["x"], "a": "1"})


def test_publish_then_lookup(tmp_path: Path) -> None:
    cache = BuiltWheelCache(tmp_path / "built")
    key = "ab" + "0" * 62
    published = cache.publish(key, _wheel(tmp_path / "w", PURE))
    assert published == tmp_path / "built" / "ab" / key / PURE
    assert published.read_bytes() == PURE.encode()
    assert cache.lookup(key, None) == published
    assert cache.lookup("cd" + "0" * 62, None) is None
    assert sorted(p.name for p in (tmp_path / "built" / "ab").iterdir()) == [key]  # no staging left


def test_native_wheels_need_the_target_tags(tmp_path: Path) -> None:
    cache = BuiltWheelCache(tmp_path / "built")
    key = "ab" + "1" * 62
    cache.publish(key, _wheel(tmp_path / "a", CP311))
    second = cache.publish(key, _wheel(tmp_path / "b", CP312))  # the entry exists: added beside
    py312 = TargetPython(
        version=(3, 12, 1),
        tags=(Tag("cp312", "cp312", "manylinux_2_17_x86_64"), Tag("py3", "none", "any")),
        markers={},
    )

    assert cache.lookup(key, None) is None  # a native wheel is never guessed to fit
    assert cache.lookup(key, py312.tags) == second
    assert cache.lookup(key, (Tag("cp310", "cp310", "manylinux_2_17_x86_64"),)) is None


def test_a_concurrent_winner_is_kept(tmp_path: Path) -> None:
    cache = BuiltWheelCache(tmp_path / "built")
    key = "ab" + "2" * 62
    winner = cache.publish(key, _wheel(tmp_path / "a", PURE))
    late = _wheel(tmp_path / "b", PURE)
    late.write_bytes(b"late")
    assert cache.publish(key, late) == winner
    assert winner.read_bytes() == PURE.encode()


def test_local_builds_replace_earlier_ones(tmp_path: Path) -> None:
    cache = BuiltWheelCache(tmp_path / "built")
    first = cache.publish_local("k", _wheel(tmp_path / "a", "demo-1.0-py3-none-any.whl"))
    second = cache.publish_local("k", _wheel(tmp_path / "b", "demo-1.1-py3-none-any.whl"))
    assert not first.exists() and second.is_file()
    assert [p.name for p in second.parent.iterdir()] == [second.name]
