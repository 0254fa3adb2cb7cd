"""python -m emulator {call,load,serve,replay}: the Piopiy platform on 127.0.0.1 (emulator/cli.py, docs/emulator.md)."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from emulator.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
