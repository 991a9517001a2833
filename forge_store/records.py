"""``record``: :func:`dataclasses.dataclass` whose generated methods cost nothing until used.

Why: ``@dataclass(frozen=True, slots=True)`` compiles six methods per class at import (``__init__``,
``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``), about 1 ms a class on
CPython 3.10-3.13. An install imports some 90 of them and builds instances of a third: about 0.1 s
of every command went to compiling methods that were never called.

``record`` takes the same arguments and makes a real dataclass (``fields``, ``replace``, ``asdict``,
``is_dataclass``, ``__match_args__``, ``field(...)`` all behave as documented) by letting
:mod:`dataclasses` process the fields and slots only. ``__init__`` is compiled on the first
construction; equality, hashing, ``repr`` and the frozen guards are shared closures with the
semantics of the generated ones (fields compared as a tuple, ``NotImplemented`` for another class,
:class:`dataclasses.FrozenInstanceError` on assignment). What differs: ``__dataclass_params__``
describes the fields-only pass, and ``InitVar`` pseudo-fields are refused. Type checkers see
:func:`dataclasses.dataclass` itself.
"""

# ruff: noqa: N807  (the closures are the methods they are named after)
from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataclasses import dataclass as record
else:

    def record(
        cls: type | None = None,
        /,
        *,
        init: bool = True,
        repr: bool = True,
        eq: bool = True,
        frozen: bool = False,
        slots: bool = False,
        kw_only: bool = False,
    ) -> Any:
        """``@record`` / ``@record(frozen=True, slots=True, ...)``: see the module's docstring."""

        def wrap(c: type) -> type:
            return _make(c, init=init, repr=repr, eq=eq, frozen=frozen, slots=slots, kw_only=kw_only)

        return wrap if cls is None else wrap(cls)


__all__ = ["record"]

_MISSING = dataclasses.MISSING


def _make(cls: type, *, init: bool, repr: bool, eq: bool, frozen: bool, slots: bool, kw_only: bool) -> type:
    own = dict(cls.__dict__)  # what the class itself defines wins, as with dataclass
    if not own.get("__doc__"):
        # dataclass would call inspect.signature for a doc; in the fields-only pass that is
        # object's "(self, /, *args, **kwargs)" anyway (~0.2 ms a class, tokenize loaded for it)
        cls.__doc__ = cls.__name__
    made: type = dataclasses.dataclass(
        cls, init=False, repr=False, eq=False, frozen=False, slots=slots, kw_only=kw_only
    )
    declared = made.__dict__.get("__dataclass_fields__", {})
    fields = dataclasses.fields(made)
    plain = {f.name for f in fields}
    for name, f in declared.items():
        if name not in plain and "InitVar" in str(f.type):
            raise TypeError(f"record {cls.__qualname__}: InitVar field {name!r} is not supported")

    def put(name: str, value: object) -> None:
        if name not in own:
            setattr(made, name, value)

    if init:
        put("__init__", _lazy_init(made, frozen))
    if repr:
        put("__repr__", _repr([f.name for f in fields if f.repr]))
    if eq:
        put("__eq__", _eq([f.name for f in fields if f.compare]))
    explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    if eq and not explicit_hash:
        hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
        made.__hash__ = _hash(hashed) if frozen else None  # type: ignore[assignment]
    if frozen:
        put("__setattr__", _frozen_setattr(made, plain))
        put("__delattr__", _frozen_delattr(made, plain))
        if slots:
            put("__getstate__", _getstate([f.name for f in fields]))
            put("__setstate__", _setstate([f.name for f in fields]))
    return made


def _key(names: list[str]) -> Callable[[object], tuple[object, ...]]:
    """The fields ``names`` of an instance as a tuple (what generated ``__eq__``/``__hash__`` use)."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda obj: (one(obj),)
    return operator.attrgetter(*names)


def _eq(names: list[str]) -> Callable[[object, object], object]:
    key = _key(names)

    def __eq__(self: object, other: object) -> object:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _hash(names: list[str]) -> Callable[[object], int]:
    key = _key(names)

    def __hash__(self: object) -> int:
        return hash(key(self))

    return __hash__


def _repr(names: list[str]) -> Callable[[object], str]:
    def __repr__(self: object) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{self.__class__.__qualname__}({inner})"

    return __repr__


def _frozen_setattr(cls: type, names: set[str]) -> Callable[[object, str, object], None]:
    def __setattr__(self: object, name: str, value: object) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)  # type: ignore[arg-type]

    return __setattr__


def _frozen_delattr(cls: type, names: set[str]) -> Callable[[object, str], None]:
    def __delattr__(self: object, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)  # type: ignore[arg-type]

    return __delattr__


def _getstate(names: list[str]) -> Callable[[object], list[object]]:
    def __getstate__(self: object) -> list[object]:
        return [getattr(self, n) for n in names]

    return __getstate__


def _setstate(names: list[str]) -> Callable[[object, list[object]], None]:
    def __setstate__(self: object, state: list[object]) -> None:
        for name, value in zip(names, state, strict=False):
            object.__setattr__(self, name, value)

    return __setstate__


def _lazy_init(cls: type, frozen: bool) -> Callable[..., None]:
    """An ``__init__`` that compiles the real one on its first call and puts it in its place."""

    def __init__(self: object, *args: object, **kwargs: object) -> None:
        real = _compile_init(cls, frozen)
        cls.__init__ = real  # type: ignore[misc]
        real(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _compile_init(cls: type, frozen: bool) -> Callable[..., None]:
    """The ``__init__`` :mod:`dataclasses` would generate for ``cls``: same parameters, defaults,
    factories, keyword-only fields, ``init=False`` fields and ``__post_init__`` call."""
    scope: dict[str, object] = {"_setattr": object.__setattr__, "_FACTORY": _MISSING}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):
        name = f.name
        value = name
        if f.default is not _MISSING:
            scope[f"_dflt_{name}"] = f.default
            param = f"{name}=_dflt_{name}"
            if not f.init:
                value = f"_dflt_{name}"
        elif f.default_factory is not _MISSING:
            scope[f"_fact_{name}"] = f.default_factory
            param = f"{name}=_FACTORY"
            value = f"_fact_{name}() if {name} is _FACTORY else {name}" if f.init else f"_fact_{name}()"
        else:
            param = name
            if not f.init:
                continue  # neither a parameter nor a default: left unset, as dataclass leaves it
        if f.init:
            (keyword if f.kw_only else positional).append(param)
        body.append(f"_setattr(self, {name!r}, {value})" if frozen else f"self.{name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    params = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({params}) -> None:\n    " + "\n    ".join(body or ["pass"]) + "\n"
    exec(source, scope)
    made = scope["__init__"]
    assert callable(made)
    made.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    return made
