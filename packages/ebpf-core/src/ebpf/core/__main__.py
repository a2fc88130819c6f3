"""``python -m ebpf.core``: the ``ebpf`` command (see [`ebpf.core.cli`][ebpf.core.cli])."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
