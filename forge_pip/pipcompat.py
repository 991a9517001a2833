"""The pip that Forge's front end emulates, for the front end's own code.

One constant for every place that names pip's version: ``pip --version`` (``pip 26.3 from PATH
(python X.Y) [forge 0.2.0]``), the ``--report`` and ``inspect`` documents, and the ``pip`` package
inside each env (its ``__version__`` and dist-info). It lives in :mod:`forge_store.pip_frontend`,
which writes that package (``forge_store`` cannot import ``forge_pip``); this module re-exports it.
"""

from __future__ import annotations

from forge_store.pip_frontend import PIP_VERSION

__all__ = ["PIP_VERSION"]
