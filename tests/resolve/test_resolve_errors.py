"""The two user-facing failures: a conflict, and no matching distribution."""

from __future__ import annotations

import pytest
from resolve_fakes import Release, world

from forge_pip.resolve import NoMatchingDistribution, ResolutionError
from forge_store.errors import ExitCode, ForgeError

R = Release


def test_conflict_prose() -> None:
    index = {"a": [R("1.0", ("c<2",))], "b": [R("2.0", ("c>=2",))], "c": [R("1.0"), R("2.0")]}
    with pytest.raises(ResolutionError) as info:
        world(index).resolve("a==1", "b")
    err = info.value
    assert isinstance(err, ForgeError) and err.exit_code is ExitCode.CONFLICT
    msg = err.message
    assert "Cannot install a==1 and b because these package versions have conflicting dependencies" in msg
    assert "The conflict is caused by:" in msg
    assert "a 1.0 depends on c<2" in msg and "b 2.0 depends on c>=2" in msg
    assert "Versions tried:" in msg
    assert err.hint and "loosen" in err.hint
    assert err.to_dict()["causes"] == list(err.causes)


def test_conflict_lists_tried_versions_and_constraints() -> None:
    index = {"a": [R("1.0", ("c<2",)), R("2.0", ("c<2",))], "c": [R("1.0"), R("2.0")]}
    from packaging.requirements import Requirement

    with pytest.raises(ResolutionError) as info:
        world(index).resolve("a", "c>=2", constraints=(Requirement("c!=1.5"),))
    msg = info.value.message
    assert "a 2.0, 1.0" in msg
    assert "The user requested c>=2" in msg
    assert "The user requested (constraint) c!=1.5" in msg


def test_unknown_name() -> None:
    with pytest.raises(NoMatchingDistribution) as info:
        world({}).resolve("nosuch")
    assert info.value.exit_code is ExitCode.NO_MATCHES
    assert "No matching distribution found for nosuch (from versions: none)" in info.value.message
    assert info.value.hint and "spelling" in info.value.hint


def test_unknown_version_with_chain() -> None:
    index = {"app": [R("1.0", ("bar",))], "bar": [R("1.0", ("foo==9",))], "foo": [R("1.0"), R("1.1")]}
    with pytest.raises(NoMatchingDistribution) as info:
        world(index).resolve("app")
    msg = info.value.message
    assert "No matching distribution found for foo==9 (from versions: 1.0, 1.1)" in msg
    assert "required by bar 1.0 <- app 1.0 <- requested" in msg
    assert info.value.versions == ("1.0", "1.1")


@pytest.mark.parametrize(
    ("release", "minor", "reason"),
    [
        (R("2.0", file_requires_python=">=3.13"), 12, "requires a different Python (>=3.13)"),
        (R("2.0", tags=("cp313-cp313-manylinux_2_17_x86_64",)), 12, "no wheel for the target"),
        (R("2.0", yanked="bad build"), 12, "yanked (bad build)"),
    ],
)
def test_no_match_says_why_files_were_skipped(release: Release, minor: int, reason: str) -> None:
    with pytest.raises(NoMatchingDistribution) as info:
        world({"foo": [R("1.0"), release]}).resolve("foo>=2", minor=minor)
    assert "No matching distribution found for foo>=2" in info.value.message
    assert reason in info.value.message
    assert any(reason in s for s in info.value.skipped)
