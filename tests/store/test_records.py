"""``forge_store.records.record`` behaves as ``dataclasses.dataclass`` does, side by side.

Each shape is declared twice, once per decorator, and every observable behaviour is compared:
construction (defaults, factories, keyword-only and ``init=False`` fields, ``__post_init__``, the
errors of a wrong call), ``repr``, equality, hashing, the frozen guards, ``replace``/``fields``/
``asdict``, ``__match_args__``, copy, deepcopy and pickle. Then every record class that Forge
defines is checked to be a dataclass whose methods appear when first used.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import pickle
import pkgutil
import sys
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

import forge_pip
import forge_store
from forge_store.records import record

Decorator = Callable[..., Any]


def _shapes(deco: Decorator) -> dict[str, type]:
    @deco(frozen=True, slots=True)
    class Frozen:
        """frozen and slotted, as most of Forge's records"""

        a: int
        b: str = "x"
        c: tuple[int, ...] = dataclasses.field(default_factory=tuple)
        hidden: list[int] = dataclasses.field(default_factory=list, compare=False, repr=False)
        kind: ClassVar[str] = "k"

    @deco(frozen=True, slots=True, kw_only=True)
    class KwOnly(Frozen):
        e: int = 5

    @deco(slots=True)
    class Mutable:
        x: int
        y: int = dataclasses.field(init=False, default=7)
        z: list[int] = dataclasses.field(init=False, default_factory=list)

        def __post_init__(self) -> None:
            self.x += 1

    @deco(frozen=True, eq=False)
    class Identity:
        n: float

    @deco
    class Bare:
        pass

    @deco(frozen=True)
    class OwnRepr:
        v: int

        def __repr__(self) -> str:
            return "mine"

    return {c.__name__: c for c in (Frozen, KwOnly, Mutable, Identity, Bare, OwnRepr)}


def _outcome(call: Callable[[], object]) -> tuple[str, str]:
    """What a call gives, comparable across the two decorators (the class's name is the same)."""
    try:
        value = call()
    except Exception as exc:
        return ("raises", f"{type(exc).__name__}: {exc}")
    return ("gives", repr(value))


def _behaviours(shapes: dict[str, type]) -> list[tuple[str, tuple[str, str]]]:
    frozen, kw, mutable = shapes["Frozen"], shapes["KwOnly"], shapes["Mutable"]
    identity, bare, own = shapes["Identity"], shapes["Bare"], shapes["OwnRepr"]
    one, same, other = frozen(1), frozen(1, "x", (), [9]), frozen(2)

    def assign() -> None:
        one.a = 3  # type: ignore[misc]

    def delete() -> None:
        del one.b  # type: ignore[misc]

    def assign_new() -> None:  # not slotted: CPython's slotted frozen guard fails with a TypeError
        identity(1.0).new = 1

    checks: dict[str, Callable[[], object]] = {
        "repr": lambda: one,
        "positional": lambda: frozen(1, "y", (2,)),
        "keywords": lambda: frozen(b="q", a=4),
        "missing argument": lambda: frozen(),
        "too many": lambda: frozen(1, "b", (), [], 5),
        "unknown keyword": lambda: frozen(1, nope=2),
        "eq (compare=False ignored)": lambda: one == same,
        "ne": lambda: one != other,
        "eq other class": lambda: one == kw(1),
        "eq with a non-record": lambda: one == (1, "x", ()),
        "hash equal": lambda: hash(one) == hash(same),
        "hash in a set": lambda: len({one, same, other}),
        "frozen assign": assign,
        "frozen delete": delete,
        "frozen new attribute": assign_new,
        "replace": lambda: dataclasses.replace(one, b="r"),
        "replace unknown": lambda: dataclasses.replace(one, zz=1),
        "fields": lambda: [f.name for f in dataclasses.fields(one)],
        "asdict": lambda: dataclasses.asdict(one),
        "astuple": lambda: dataclasses.astuple(one),
        "is_dataclass": lambda: (dataclasses.is_dataclass(frozen), dataclasses.is_dataclass(one)),
        "match_args": lambda: (frozen.__match_args__, kw.__match_args__),
        "classvar": lambda: frozen.kind,
        "copy": lambda: copy.copy(one),
        "deepcopy": lambda: copy.deepcopy(frozen(1, "x", (1,), [2])),
        "pickle": lambda: pickle.loads(pickle.dumps(kw(3, e=4))),
        "kw_only": lambda: kw(1, "b", e=2),
        "kw_only positional refused": lambda: kw(1, "b", (), [], 2),
        "kw_only eq": lambda: (kw(1, e=2) == kw(1, e=2), kw(1, e=2) == kw(1, e=3)),
        "subclass hash": lambda: hash(kw(1)) == hash(kw(1)),
        "post_init and init=False": lambda: (mutable(1), mutable(1).y, mutable(1).z),
        "init=False refused as argument": lambda: mutable(1, 2),
        "mutable unhashable": lambda: hash(mutable(1)),
        "mutable eq": lambda: mutable(1) == mutable(1),
        "eq=False is identity": lambda: (identity(1.0) == identity(1.0), hash(identity(1.0)) > -(2**64)),
        "no fields": lambda: (bare(), bare() == bare(), bare.__match_args__),
        "own repr kept": lambda: own(1),
        "slots": lambda: (frozen.__slots__, hasattr(one, "__dict__")),
    }
    return [(name, _outcome(check)) for name, check in checks.items()]


def test_record_behaves_as_dataclass_side_by_side() -> None:
    theirs = _behaviours(_shapes(dataclasses.dataclass))
    ours = _behaviours(_shapes(record))
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    differing = [(name, o, t) for (name, o), (_, t) in zip(ours, theirs, strict=True) if o != t]
    assert differing == []


def test_record_refuses_initvar() -> None:
    with pytest.raises(TypeError, match="InitVar"):

        @record
        class WithInitVar:
            seed: dataclasses.InitVar[int]


def test_methods_are_compiled_on_first_construction_only() -> None:
    @record(frozen=True, slots=True)
    class Lazy:
        a: int

    stub = Lazy.__init__
    assert Lazy(1).a == 1
    assert Lazy.__init__ is not stub  # replaced by the compiled one
    assert Lazy(2) == Lazy(2) and Lazy(2) != Lazy(3)


def test_a_record_keeps_its_docstring_and_asks_inspect_for_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """A documented record keeps its docstring; an undocumented one is named by its class, without
    the ``inspect.signature`` call dataclass makes for a doc (it would describe object's init)."""
    import inspect

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("inspect.signature was called")

    monkeypatch.setattr(inspect, "signature", refuse)

    @record(frozen=True, slots=True)
    class Plain:
        a: int

    @record
    class Documented:
        """What it is."""

        b: str = "x"

    assert Plain.__doc__ == "Plain" and Plain(1).a == 1
    assert Documented.__doc__ == "What it is." and Documented().b == "x"


def _forge_modules() -> list[str]:
    names = []
    for package in (forge_store, forge_pip):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            names.append(info.name)
    return names


def test_every_forge_dataclass_is_a_record() -> None:
    """No plain ``@dataclass`` is left (each costs ~1 ms at import), and every record class can be
    introspected as a dataclass (mixing the two would also break frozen inheritance checks)."""
    plain: list[str] = []
    records = 0
    for module_name in _forge_modules():
        if module_name.endswith("__main__"):
            continue
        module = sys.modules.get(module_name) or importlib.import_module(module_name)
        for value in vars(module).values():
            if not isinstance(value, type) or value.__module__ != module_name:
                continue
            if "__dataclass_params__" not in vars(value):  # not decorated here (installer's base)
                continue
            params = value.__dataclass_params__  # type: ignore[attr-defined]
            if params.init:  # dataclass compiled its own methods: not made through record
                plain.append(f"{module_name}.{value.__qualname__}")
            else:
                records += 1
    assert plain == []
    assert records > 100
