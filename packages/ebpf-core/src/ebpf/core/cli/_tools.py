"""``ebpf tool list`` and ``ebpf tool NAME [options]``: the ready tools of ``ebpf.core.tools``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from types import FrameType
from typing import Any

from ._output import CliError, print_json, table

__all__ = ["cmd_tool"]


def _list(json_out: bool) -> int:
    from ebpf.core.tools import TOOL_NAMES, get_tool

    rows = [(name, get_tool(name).summary) for name in TOOL_NAMES]
    if json_out:
        print_json([{"name": name, "summary": summary} for name, summary in rows])
    else:
        print(table(("TOOL", "WHAT IT SHOWS"), rows))
    return 0


def _emit(record: Any, tool: Any, options: Any, json_out: bool) -> None:
    if json_out:
        print(json.dumps(record.to_dict(), default=str), flush=True)
    else:
        print(tool.format(record, options), flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise KeyboardInterrupt


def cmd_tool(args: argparse.Namespace) -> int:
    """Run tool ``args.name`` with ``args.args`` until its duration, Ctrl-C or SIGTERM; ``list`` lists them.

    SIGTERM (``timeout 10 ebpf tool ...``, ``kill``, a service manager) ends the
    run as Ctrl-C does: a summarizing tool still prints what it counted.

    With ``--prometheus HOST:PORT`` the tool also serves its metrics (the URL
    goes to stderr); ``-q`` prints no records.
    """
    from ebpf.core.tools import get_tool

    if args.name == "list":
        return _list(args.json or "--json" in args.args)
    try:
        tool = get_tool(args.name)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    parsed = tool.parser(f"ebpf tool {tool.name}").parse_args(args.args)
    json_out = bool(args.json or parsed.json)
    options = tool.parse_options(parsed)
    from ebpf.core._system import init

    init(probe_features=False, mount_tracefs=True)
    signal.signal(signal.SIGTERM, _interrupt)
    quiet = bool(parsed.quiet)
    with tool.start(options) as tracer:
        if tracer.metrics_server is not None:
            print(f"serving Prometheus metrics at {tracer.metrics_server.url}", file=sys.stderr, flush=True)
        header = None if json_out or quiet else tool.header(options)
        try:
            if header:
                print(header, flush=True)
            for record in tracer:
                if not quiet:
                    _emit(record, tool, options, json_out)
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM ends the run: what a summarizing tool counted so far is still reported.
            for record in tracer.flush():
                if not quiet:
                    _emit(record, tool, options, json_out)
    sys.stdout.flush()
    return 0
