"""Build environments that are Forge envs: ``build-system.requires`` linked from the store.

:class:`ForgeBuildEnvFactory` is the :class:`~forge_pip.build.BuildEnvFactory` the installer hands
the builder. Each build gets a fresh, hidden env (``@build-<id>`` under ``$FORGE_HOME/build-envs``)
on the target interpreter; its requirements go through the same install pipeline as a user's
install (under ``--build-constraint`` only: the user's ``-c`` / ``PIP_CONSTRAINT`` never reach it,
as in pip 26.2), so the second build of anything links the setuptools it needs from the store and
downloads nothing. The env is removed when the build is over; its store entries stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from forge_pip.build import BuildEnv, BuildError

if TYPE_CHECKING:
    from forge_pip.install import IndexOptions
    from forge_pip.reqfile import ReqLine
    from forge_store.models import EnvInfo, Interpreter
    from forge_store.store import Store

__all__ = ["ForgeBuildEnvFactory"]

MAX_DEPTH = 3


class ForgeBuildEnvFactory:
    """Makes one hidden Forge env per build, on ``interpreter``, installing through Forge."""

    def __init__(
        self,
        home: Path,
        interpreter: Interpreter,
        index: IndexOptions,
        *,
        depth: int = 1,
        constraints: Sequence[ReqLine] = (),
        all_releases: frozenset[str] = frozenset(),
        only_final: frozenset[str] = frozenset(),
    ) -> None:
        self._home = home
        self._interpreter = interpreter
        self._index = index
        self._depth = depth
        self._constraints = tuple(constraints)
        """``--build-constraint`` lines: the only constraints a build env sees (pip 26.2)."""
        self._all_releases = all_releases
        self._only_final = only_final

    def create(self, requirements: Sequence[str], *, purpose: str) -> BuildEnv:
        from forge_store.store import Store

        if self._depth > MAX_DEPTH:
            raise BuildError(
                f"build requirements nest more than {MAX_DEPTH} levels deep ({purpose})",
                hint="install pre-built wheels of the build requirements",
            )
        store = Store(self._home)
        try:
            env = store.create_build_env(self._interpreter)
        except BaseException:
            store.close()
            raise
        name = env.name

        def close() -> None:
            try:
                store.remove_env(name)
            finally:
                store.close()

        try:
            self._install(store, env, requirements, purpose)
        except BaseException:
            close()
            raise
        return BuildEnv(
            python=env.python,
            install=lambda reqs: self._install(store, env, reqs, purpose),
            close=close,
        )

    def _install(self, store: Store, env: EnvInfo, requirements: Sequence[str], purpose: str) -> None:
        from forge_pip.install import InstallOptions, install, requests_from_strings
        from forge_store.errors import ForgeError

        if not requirements:
            return
        options = InstallOptions(
            requirements=requests_from_strings(list(requirements)),
            index=self._index,
            build_depth=self._depth,
            constraints=self._constraints,
            build_constraints=self._constraints,
            all_releases=self._all_releases,
            only_final=self._only_final,
        )
        try:
            install(store, env, options)
        except BuildError:
            raise
        except ForgeError as exc:
            raise BuildError(f"cannot install {purpose}: {exc.message}", hint=exc.hint) from exc
