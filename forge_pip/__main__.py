"""``python -m forge_pip``: the pip-compatible front end (imports nothing heavy before it is needed).

``isolation.enter()`` first: a ``PYTHONPATH`` naming a Forge env's site-packages must not hand this
process the env's packages (see ``forge_store.isolation``).
"""

import sys

if __name__ == "__main__":
    from forge_store import isolation

    isolation.enter()
    from forge_pip.cli.pip import main

    sys.exit(main())
