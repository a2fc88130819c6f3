"""``ebpf demo``: the live demo of ``ebpf.core._demo``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["cmd_demo"]


def cmd_demo(args: argparse.Namespace) -> int:
    from ebpf.core._demo import run_demo

    return run_demo(seconds=args.seconds, top=args.top, out=sys.stdout)
