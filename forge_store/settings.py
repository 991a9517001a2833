"""Per-env settings: the keys ``forge env set/get/unset`` take, their enums, defaults and storage.

Two kinds of key:

* **policy** keys (``abi_policy``, ``conflict_mode``) live only in ``FORGE_HOME/config.json``::

      {"version": 1, "envs": {"app": {"created": 1764600000.0, "abi_policy": "strict_abi"}}}

  Each env's entry carries the env's creation time, so an env removed and made again under the same
  name does not inherit the old one's settings. The file is rewritten atomically (temp file +
  ``os.replace``) under the config lock. :func:`conflict_mode` and :func:`abi_policy` are what the
  enforcement at install time asks.
* **structure** keys (``link_mode``, ``layering``) are properties of the env's links, so the
  catalog stays their source of truth: setting one rebuilds the env's links in the new mode
  (:meth:`Store.change_modes`); ``config.json`` only records that it was set explicitly. Every
  later install into the env links in its mode.
"""

from __future__ import annotations

import enum
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.records import record

from .errors import InvalidSetting
from .models import EnvInfo, LayeringMode, LinkMode
from .tokens import token

if TYPE_CHECKING:
    from .store import Store


class AbiPolicy(enum.Enum):
    """What an install does when a dist's compiled ABI does not fit the stack."""

    STRICT_ABI = "strict_abi"  # refuse
    WARN_ABI = "warn_abi"  # install, warn (default)
    ALLOW_ABI = "allow_abi"  # install, say nothing


class ConflictMode(enum.Enum):
    """What an install does when a layer's dist breaks a requirement of another layer's dist."""

    LOOSE = "loose"  # allow silently
    WARN = "warn"  # allow, warn (default)
    STRICT = "strict"  # refuse


CONFIG_VERSION = 1
CONFIG_NAME = "config.json"

KEYS: dict[str, type[enum.Enum]] = {
    "abi_policy": AbiPolicy,
    "conflict_mode": ConflictMode,
    "link_mode": LinkMode,
    "layering": LayeringMode,
}
DEFAULTS: dict[str, enum.Enum] = {
    "abi_policy": AbiPolicy.WARN_ABI,
    "conflict_mode": ConflictMode.WARN,
    "link_mode": LinkMode.SYMLINK,
    "layering": LayeringMode.STACKED,
}
STRUCTURE_KEYS = frozenset({"link_mode", "layering"})


@record(frozen=True, slots=True)
class Setting:
    key: str
    value: enum.Enum
    default: enum.Enum
    explicit: bool  # set with ``forge env set`` (or, for structure keys, differs from the default)

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(m.value for m in KEYS[self.key])


def check_key(key: str) -> type[enum.Enum]:
    kind = KEYS.get(key)
    if kind is None:
        raise InvalidSetting(f"unknown setting {key!r}; valid keys: {', '.join(KEYS)}")
    return kind


def parse(key: str, value: str) -> enum.Enum:
    """The enum member for ``value`` of ``key``; ``InvalidSetting`` listing the valid ones."""
    kind = check_key(key)
    try:
        return kind(value)
    except ValueError:
        valid = "|".join(m.value for m in kind)
        raise InvalidSetting(f"invalid value {value!r} for {key}; valid: {valid}") from None


def config_path(store: Store) -> Path:
    return store.home.root / CONFIG_NAME


def read_document(store: Store) -> dict[str, object]:
    """The whole ``config.json`` ({} when absent); an unreadable file is an error. Besides
    ``envs`` it holds other FORGE_HOME settings (``upstreams``: :mod:`.upstream`)."""
    path = config_path(store)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InvalidSetting(
            f"{path} is not a readable Forge config ({exc})", hint="fix or delete the file"
        ) from None
    return data if isinstance(data, dict) else {}


def _read(store: Store) -> dict[str, dict[str, object]]:
    """The ``envs`` map of ``config.json`` ({} when absent); an unreadable file is an error."""
    envs = read_document(store).get("envs")
    if not isinstance(envs, dict):
        return {}
    return {k: v for k, v in envs.items() if isinstance(k, str) and isinstance(v, dict)}


def _write(store: Store, envs: dict[str, dict[str, object]]) -> None:
    write_document(store, {**read_document(store), "envs": envs})


def write_document(store: Store, doc: dict[str, object]) -> None:
    """Replace ``config.json`` atomically (temp file, fsync, rename); the caller holds the config
    lock and passes the whole document (keys other than its own kept as read)."""
    path = config_path(store)
    tmp = path.with_name(f".{CONFIG_NAME}.{os.getpid()}.{token(8)}")
    text = json.dumps({**doc, "version": CONFIG_VERSION}, indent=2, sort_keys=True) + "\n"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _own(envs: dict[str, dict[str, object]], env: EnvInfo) -> dict[str, object]:
    """The env's stored settings, or {} if they belong to an earlier env of the same name."""
    entry = envs.get(env.name, {})
    return entry if entry.get("created") == env.created else {}


def effective(store: Store, env: EnvInfo) -> list[Setting]:
    """Every key's effective value for ``env``, in :data:`KEYS` order."""
    stored = _own(_read(store), env)
    out: list[Setting] = []
    for key, kind in KEYS.items():
        default = DEFAULTS[key]
        value: enum.Enum
        if key == "link_mode":
            value = env.link_mode
        elif key == "layering":
            value = env.layering
        else:
            raw = stored.get(key)
            try:
                value = kind(raw) if raw is not None else default
            except ValueError:
                value = default  # a value a later Forge wrote; ignore rather than fail every read
        explicit = key in stored or (key in STRUCTURE_KEYS and value is not default)
        out.append(Setting(key, value, default, explicit))
    return out


def get(store: Store, env: EnvInfo, key: str) -> Setting:
    check_key(key)
    return next(s for s in effective(store, env) if s.key == key)


def conflict_mode(store: Store, env: EnvInfo) -> ConflictMode:
    """The env's conflict mode (what install-time conflict checks obey)."""
    value = get(store, env, "conflict_mode").value
    assert isinstance(value, ConflictMode)
    return value


def abi_policy(store: Store, env: EnvInfo) -> AbiPolicy:
    """The env's ABI policy (what install-time ABI checks obey)."""
    value = get(store, env, "abi_policy").value
    assert isinstance(value, AbiPolicy)
    return value


def _record(store: Store, env: EnvInfo, key: str, value: enum.Enum | None) -> None:
    with store.config_lock():
        envs = _read(store)
        own = dict(_own(envs, env))
        own["created"] = env.created
        if value is None:
            own.pop(key, None)
        else:
            own[key] = value.value
        if set(own) == {"created"}:
            envs.pop(env.name, None)
        else:
            envs[env.name] = own
        _write(store, envs)


def _apply_structure(store: Store, env: EnvInfo, key: str, value: enum.Enum) -> None:
    if key == "link_mode":
        assert isinstance(value, LinkMode)
        if value is not env.link_mode:
            store.change_modes(env.name, link_mode=value)
    else:
        assert isinstance(value, LayeringMode)
        if value is not env.layering:
            store.change_modes(env.name, layering=value)


def set_value(store: Store, env_name: str, key: str, raw: str) -> Setting:
    """Set ``key`` to ``raw`` for the env; structure keys relink the env first."""
    value = parse(key, raw)
    env = store.env(env_name)
    if key in STRUCTURE_KEYS:
        _apply_structure(store, env, key, value)
        env = store.env(env_name)
    _record(store, env, key, value)
    return get(store, env, key)


def unset(store: Store, env_name: str, key: str) -> Setting:
    """Back to the default; a structure key relinks the env in its default mode."""
    check_key(key)
    env = store.env(env_name)
    if key in STRUCTURE_KEYS:
        _apply_structure(store, env, key, DEFAULTS[key])
        env = store.env(env_name)
    _record(store, env, key, None)
    return get(store, env, key)


def forget(store: Store, env_name: str) -> None:
    """Drop an env's settings (after it was removed)."""
    with store.config_lock():
        envs = _read(store)
        if envs.pop(env_name, None) is not None:
            _write(store, envs)
