"""``python -m forge_pip``: the pip-compatible front end (imports nothing heavy before it is needed).

A dry run whose inputs are all unchanged is answered from its record (:mod:`forge_pip.replay`).
``isolation.enter()`` first: a ``PYTHONPATH`` naming a Forge env's site-packages must not hand this
process the env's packages (see ``forge_store.isolation``).
"""

import sys

if __name__ == "__main__":
    from forge_store import isolation

    isolation.enter()
    from forge_pip.cli.pip import main
    from forge_pip.replay import run

    # a repeated dry run is answered from its record (replay.py); the exit skips the teardown
    isolation.leave(isolation.run_main(lambda: run(sys.argv[1:], main)))
