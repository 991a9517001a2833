"""``python -m forge_pip``: the pip-compatible front end (imports nothing heavy before it is needed)."""

import sys

from forge_pip.cli.pip import main

if __name__ == "__main__":
    sys.exit(main())
