"""The pip that Forge's front end emulates: one constant for every place that names pip's version.

``pip --version`` prints it (``pip 26.0 from PATH (python X.Y) [forge 0.2.0]``), ``--report`` and
``inspect`` documents carry it, and the ``pip`` package inside an env reports it as its
``__version__``, so tools that check ``pip >= N`` see the pip whose behaviour Forge follows.
"""

from __future__ import annotations

PIP_VERSION = "26.0"
