"""Ready tools in the manner of bcc's and libbpf-tools': ``ebpf tool NAME`` or an import.

Each tool is a module here: an ``Options`` dataclass, ``start(options)``
(loaded and attached: a [`Tracer`][ebpf.core.tools.Tracer], a context
manager handing out typed records), ``run(options)`` (the records until the
duration ends) and ``TOOL`` (the [`Tool`][ebpf.core.tools.Tool] the command
line runs)::

    from ebpf.core.tools import execsnoop

    with execsnoop.start(execsnoop.Options(duration=2)) as tracer:
        for event in tracer:
            print(event.pid, event.comm, event.retval, event.args)

Their BPF side is C compiled ahead of time into CO-RE objects shipped in
the package (``bpf/*.bpf.o``): no compiler is needed where they run. Where a
kernel lacks a hook, a tool falls back as libbpf-tools do (``tp_btf`` ->
raw tracepoint), decided by feature probes (``hook=`` forces one). Records are data (``to_dict()``
for JSON; summaries hold [`Histogram`][ebpf.maps.Histogram] s and counts,
profile and offcputime symbolized stacks in a
[`StackReport`][ebpf.core.tools.StackReport]), so exporters can serve them.

With ``--prometheus HOST:PORT`` (``CommonOptions.prometheus``) a tool serves
its counts and histograms as Prometheus metrics while it runs, read at scrape
time through [`ebpf.core.prometheus`][ebpf.core.prometheus]: what interval
reports clear from the maps is kept by a
[`CumulativeCounts`][ebpf.core.tools.CumulativeCounts], so counters never go
down; event tools count their records with
[`RecordCounter`][ebpf.core.tools.RecordCounter] s. Each tool module says
what it serves (``metrics()`` or ``counters()``; ``docs/tools.md`` lists them).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._export import CumulativeCounts, RecordCounter, Rekeyed
from ._histograms import HistogramReport
from ._objects import Hook
from ._options import CommonOptions, IntervalOptions
from ._stacks import StackCount, StackOptions, StackReport, StackSides
from ._tool import Record, Tool
from ._tracer import EventTracer, IntervalTracer, Tracer

__all__ = [
    "TOOL_NAMES",
    "CommonOptions",
    "CumulativeCounts",
    "EventTracer",
    "HistogramReport",
    "Hook",
    "IntervalOptions",
    "IntervalTracer",
    "Record",
    "RecordCounter",
    "Rekeyed",
    "StackCount",
    "StackOptions",
    "StackReport",
    "StackSides",
    "Tool",
    "Tracer",
    "get_tool",
]

#: The tools, by name (each is the module ``ebpf.core.tools.NAME``).
TOOL_NAMES: tuple[str, ...] = (
    "execsnoop",
    "opensnoop",
    "exitsnoop",
    "syscount",
    "runqlat",
    "biolatency",
    "tcpconnect",
    "tcplife",
    "profile",
    "offcputime",
    "pycalls",
)


def get_tool(name: str) -> Tool[Any, Any]:
    """The tool named ``name`` (its module is imported now).

    Raises:
        KeyError: no such tool (the message lists them).
    """
    if name not in TOOL_NAMES:
        raise KeyError(f"no tool {name!r}; the tools are: {', '.join(TOOL_NAMES)}")
    tool: Tool[Any, Any] = importlib.import_module(f"{__name__}.{name}").TOOL
    return tool
