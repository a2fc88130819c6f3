"""The ``ebpf`` command: inspect and change what is loaded in the kernel, without bpftool.

::

    ebpf check                       what this machine offers (kernel, mounts, capabilities, features)
    ebpf features [--missing]        the feature table alone
    ebpf prog list|show|dump         loaded programs; dump xlated (eBPF) or jited (machine code)
    ebpf prog load|loadall|pin       load a BPF object file and pin its programs (bpftool's words)
    ebpf prog attach|detach          attach to a sockmap or the netns until detached
    ebpf map list|show|dump          maps; values decoded with BTF when the map has it
    ebpf map lookup|update|delete    one element (--key/--value: an integer or bytes)
    ebpf map create|pin|freeze       create and pin a map, pin one, make one read-only
    ebpf link list|show|pin|detach   bpf_links
    ebpf net list [dev IF]           XDP, TC, TCX and netkit programs per interface
    ebpf cgroup tree|show            programs attached to cgroups
    ebpf perf list                   programs attached through perf events, by process
    ebpf struct_ops list|dump|register|unregister  struct_ops (tcp_congestion_ops...)
    ebpf btf list|dump               BTF objects; dump a file or object as bpftool's raw or C format
    ebpf elf inspect|disasm FILE     a BPF object file's programs, maps and variables; its instructions
    ebpf asm disasm|helpers          disassemble instructions; list helpers
    ebpf catalogue list|show         the example programs of ebpf.core.catalogue
    ebpf demo                        a live demo: syscalls per process and execve events
    ebpf tool list|NAME [options]    ready tools (execsnoop...), as bcc's: -p PID, -c COMM, -d, -T, --json

Objects are named by id, by the bpffs path they are pinned at, or by name.
Every listing has ``--json``. Errors are one line on stderr and exit
status 1 (2 for bad usage); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ._output import CliError, Handler
from ._parser import build_parser

__all__ = ["main"]


def _one_line(exc: BaseException) -> str:
    from ebpf.syscall import EbpfError

    # str() of a plain KeyError is the repr of its key; the library's own (KeyNotFoundError) say more.
    plain_key_error = isinstance(exc, KeyError) and not isinstance(exc, EbpfError) and exc.args
    text = str(exc.args[0]) if plain_key_error else str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return "; ".join(lines[:3]) + (" ..." if len(lines) > 3 else "") if lines else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ebpf`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    debug = getattr(args, "debug", False)
    from ebpf.syscall import EbpfError

    try:
        handler: Handler = args.handler
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``ebpf map dump 5 | head``): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (CliError, EbpfError, OSError, ValueError, TypeError, KeyError) as exc:
        if debug:
            raise
        print(f"ebpf: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:
        if debug:
            raise
        what = f"{type(exc).__name__}: {_one_line(exc)}"
        print(f"ebpf: internal error: {what} (run with --debug for the traceback)", file=sys.stderr)
        return 70
