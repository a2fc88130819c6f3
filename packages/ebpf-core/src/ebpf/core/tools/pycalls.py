"""pycalls: the Python function calls of a running CPython process, counted per function, with latency.

bcc's ``pythoncalls`` / ``ucalls -l python``: CPython's USDT probes
``python:function__return`` (and ``function__entry`` for ``-L``) of the
process, found in its executable or its ``libpython``
(``bpf/pycalls.bpf.c``, one object per architecture). One
[`PythonCalls`][ebpf.core.tools.pycalls.PythonCalls] per interval, or one at
the end (the duration, Ctrl-C, or the process exiting)::

    from ebpf.core.tools import pycalls

    for report in pycalls.run(pycalls.Options(pid=pid, duration=2, latency=True)):
        for row in report.rows:
            print(row.function, row.file, row.calls, row.timed, row.total_ns)

Every call is counted when it returns. Its time needs ``function__entry``,
which CPython 3.11 fires only while a trace or profile function is set
(``sys.settrace``/``sys.setprofile``, as debuggers and profilers do): calls
whose entry was not seen are counted without a time (``timed`` says how
many were timed). The Python must be built with the probes
(``--with-dtrace``: Debian's and Ubuntu's ``python3`` are).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ._export import CumulativeCounts, drain, serve_metrics
from ._objects import object_spec
from ._options import IntervalOptions
from ._tool import Tool, time_column
from ._tracer import IntervalTracer, start_tracer

if TYPE_CHECKING:
    from ebpf.core.prometheus import CounterMetric

__all__ = [
    "TOOL",
    "FunctionCalls",
    "Options",
    "PythonCalls",
    "PythonCallsTracer",
    "metrics",
    "run",
    "start",
    "summarize",
]

#: What a report says about latency while CPython fires no entry probes.
ENTRY_NOTE = (
    "Times are of the calls whose python:function__entry fired: CPython 3.11 fires it only "
    "while a trace or profile function is set (sys.settrace/sys.setprofile); "
    "other calls are counted, untimed."
)


@dataclass(frozen=True)
class Options(IntervalOptions):
    """pycalls' options (``pid`` is required: the probes are attached in that process).

    Attributes:
        latency: show the time spent in the calls (``-L``): total, average and longest.
        milliseconds: times in milliseconds rather than microseconds (``-m``).
        top: how many functions each report keeps (``-T``); 0 keeps all.
        lines: one row per line the function returned from (``--lines``),
            rather than per function.
    """

    latency: bool = False
    milliseconds: bool = False
    top: int = 0
    lines: bool = False

    def __post_init__(self) -> None:
        """Check the values (see `IntervalOptions`).

        Raises:
            ValueError: no pid, a comm filter (a process is traced by pid), a
                negative top, or a bad common option.
        """
        super().__post_init__()
        if self.pid is None:
            raise ValueError("pycalls traces one Python process: give its pid")
        if self.comm is not None:
            raise ValueError("pycalls traces one process by pid; it takes no comm filter")
        if self.top < 0:
            raise ValueError(f"top must be 0 (all) or a positive number of functions, not {self.top}")


@dataclass(frozen=True)
class FunctionCalls:
    """One row: a Python function (with ``--lines``, the calls of it that returned from one line).

    Attributes:
        file: the file of its code (``co_filename``).
        function: its name (``co_name``; ``<module>`` for a module's body).
        line: the line the calls returned from, with ``--lines`` (else ``None``).
        calls: calls that returned in the interval.
        timed: of which the entry was seen too (see `ENTRY_NOTE`).
        total_ns: time spent in the timed calls, entry to return.
        max_ns: the longest timed call.
    """

    file: str
    function: str
    line: int | None
    calls: int
    timed: int
    total_ns: int
    max_ns: int

    @property
    def average_ns(self) -> float | None:
        """The average time of the timed calls; ``None`` when none was timed."""
        return self.total_ns / self.timed if self.timed else None


@dataclass(frozen=True)
class PythonCalls:
    """The calls of one interval, busiest first (most calls; with ``-L`` most time spent).

    Attributes:
        time: when it was read (seconds since the epoch).
        pid: the process traced.
        rows: the top rows.
        functions: how many functions (rows) were seen, those left out included.
        calls: all calls counted in the interval.
        timed: of which timed (their entry seen).
    """

    time: float
    pid: int
    rows: tuple[FunctionCalls, ...]
    functions: int
    calls: int
    timed: int

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (JSON-ready)."""
        return asdict(self)


def summarize(entries: list[tuple[Mapping[str, Any], Mapping[str, Any]]], options: Options) -> PythonCalls:
    """A report from the ``functions`` map's entries (key: file, name, line; value: the stats).

    Rows of one function that returned from several lines add up unless
    ``options.lines``; ``options.top`` keeps the busiest.
    """
    merged: dict[tuple[str, str, int | None], list[int]] = {}
    for key, value in entries:
        where = (key["file"], key["name"], key["line"] if options.lines else None)
        seen = merged.setdefault(where, [0, 0, 0, 0])
        seen[0] += value["calls"]
        seen[1] += value["timed"]
        seen[2] += value["total_ns"]
        seen[3] = max(seen[3], value["max_ns"])
    rows = [FunctionCalls(file, name, line, *stats) for (file, name, line), stats in merged.items()]
    rows.sort(key=lambda row: (row.file, row.line or 0, row.function))
    rows.sort(key=lambda row: (row.total_ns, row.calls) if options.latency else row.calls, reverse=True)
    assert options.pid is not None
    return PythonCalls(
        time=time.time(),
        pid=options.pid,
        rows=tuple(rows[: options.top] if options.top else rows),
        functions=len(rows),
        calls=sum(row.calls for row in rows),
        timed=sum(row.timed for row in rows),
    )


def metrics(counts: Mapping[Any, Any], options: Options) -> list[CounterMetric]:
    """What ``--prometheus`` serves: ``ebpf_pycalls_calls_total`` by ``file`` and ``function`` and,
    with ``-L``, ``ebpf_pycalls_call_seconds_total`` (time in the timed calls) and
    ``ebpf_pycalls_timed_calls_total``.

    ``counts`` is the tool's map of counts as it only grows (a
    [`CumulativeCounts`][ebpf.core.tools.CumulativeCounts], keys as
    ``(file, name, line)`` tuples), read at scrape time.
    """
    from ebpf.core.prometheus import CounterMetric

    def function(key: tuple[str, str, int]) -> tuple[str, str]:
        return key[0], key[1]

    labels = ("file", "function")
    served = [
        CounterMetric(
            "ebpf_pycalls_calls",
            counts,
            "pycalls: Python calls that returned",
            labels=labels,
            key=function,
            value=lambda value: value["calls"],
        )
    ]
    if options.latency:
        served += [
            CounterMetric(
                "ebpf_pycalls_timed_calls",
                counts,
                "pycalls: Python calls whose entry was seen too (timed)",
                labels=labels,
                key=function,
                value=lambda value: value["timed"],
            ),
            CounterMetric(
                "ebpf_pycalls_call_seconds",
                counts,
                "pycalls: time spent in the timed Python calls",
                labels=labels,
                key=function,
                value=lambda value: value["total_ns"] / 1e9,
            ),
        ]
    return served


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, exited but not reaped, runs no more Python)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return False


class PythonCallsTracer(IntervalTracer[PythonCalls]):
    """pycalls running: its reports end with the duration or when the traced process exits.

    Attributes:
        pid: the process traced.
        files: the files whose probes are attached (the executable or ``libpython``).
    """

    def __init__(self, stack: ExitStack, options: Options, files: tuple[str, ...], counts: Any) -> None:
        """Report ``counts`` (the ``functions`` map, or its `CumulativeCounts`) as ``options`` say."""
        assert options.pid is not None
        super().__init__(stack, options.duration, options.interval, lambda: summarize(drain(counts), options))
        self.pid = options.pid
        self.files = files

    @property
    def expired(self) -> bool:
        """Whether the duration has passed or the process has exited."""
        return super().expired or not _alive(self.pid)

    def _remaining(self) -> float | None:
        return 0.0 if not _alive(self.pid) else super()._remaining()


def _attach(stack: ExitStack, collection: Any, pid: int, program: str, probe: str) -> Any:
    """Attach ``program`` to ``python:PROBE`` in process ``pid``; the link (on ``stack``).

    Raises:
        ValueError: the process has no such probe (a Python built without ``--with-dtrace``).
    """
    try:
        link = collection.attach_usdt(program, pid, "python", probe)
    except ValueError as exc:
        raise ValueError(
            f"process {pid} has no CPython USDT probe python:{probe}: is it a Python built with the "
            f"probes (--with-dtrace; Debian's and Ubuntu's python3 are, pyenv's and most self-built "
            f"ones are not)? ({exc})"
        ) from exc
    return stack.enter_context(link)


def start(options: Options) -> PythonCallsTracer:
    """Load pycalls and attach it to the Python process ``options.pid``; reports come from the tracer.

    Raises:
        ValueError: the process has no CPython USDT probes (built without ``--with-dtrace``).
        ProcessLookupError: no such process.
        FileNotFoundError: no object for this machine's architecture (x86_64 and aarch64 have one).
        PermissionDeniedError: not root (``CAP_BPF``, ``CAP_PERFMON``, reading its ``/proc/PID/maps``).
        NotSupportedError: a kernel without uprobe semaphores (``ref_ctr_offset``, 4.20).
        BpfSyscallError: another kernel error.
    """
    pid = options.pid
    assert pid is not None

    def make(stack: ExitStack) -> PythonCallsTracer:
        from ebpf.elf import Collection
        from ebpf.maps import KeyValueMap

        if not _alive(pid):
            raise ProcessLookupError(f"no process {pid}")
        collection = stack.enter_context(Collection.load(object_spec("pycalls")))
        returns = _attach(stack, collection, pid, "function_return", "function__return")
        _attach(stack, collection, pid, "function_entry", "function__entry")
        live = collection.maps["functions"]
        assert isinstance(live, KeyValueMap)
        counts = CumulativeCounts(live, keep=options.prometheus is not None)
        files = tuple(sorted({path for path, _ in returns.probes}))
        tracer = PythonCallsTracer(stack, options, files, counts)
        return serve_metrics(stack, options, tracer, lambda: metrics(counts, options))

    return start_tracer(make)


def run(options: Options) -> Iterator[PythonCalls]:
    """A report per interval (or one at the end); unloads when the loop ends."""
    with start(options) as tracer:
        yield from tracer


def _header(options: Options) -> str:
    lines = [f"Tracing Python calls of pid {options.pid}... Ctrl-C to end."]
    if options.latency:
        lines.append(ENTRY_NOTE)
    return "\n".join(lines)


def _where(row: FunctionCalls) -> str:
    return f"{row.function} ({row.file}{'' if row.line is None else f':{row.line}'})"


def _format(report: PythonCalls, options: Options) -> str:
    lines = [time_column(options, report.time).rstrip()] if options.timestamps else []
    unit, scale = ("ms", 1e6) if options.milliseconds else ("us", 1e3)
    if options.latency:
        lines.append(
            f"{'CALLS':>8} {'TIMED':>8} {'TOTAL ' + unit:>10} {'AVG ' + unit:>10} {'MAX ' + unit:>10}"
            "  FUNCTION (FILE)"
        )
    else:
        lines.append(f"{'CALLS':>8}  FUNCTION (FILE)")
    for row in report.rows:
        if not options.latency:
            lines.append(f"{row.calls:>8}  {_where(row)}")
            continue
        if row.timed:
            spent = (row.total_ns, row.total_ns / row.timed, row.max_ns)
            times = " ".join(f"{ns / scale:>10.3f}" for ns in spent)
        else:
            times = f"{'-':>10} {'-':>10} {'-':>10}"
        lines.append(f"{row.calls:>8} {row.timed:>8} {times}  {_where(row)}")
    shown = f" ({len(report.rows)} shown)" if len(report.rows) < report.functions else ""
    lines.append(
        f"{report.functions} functions{shown}, {report.calls} calls, "
        f"{report.timed} timed (function__entry seen)"
    )
    return "\n".join(lines) + "\n"


class _GivenOnly(argparse.Action):
    """A positional argument that, when left out, leaves its option's value (``PID`` or ``-p PID``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option: str | None = None,
    ) -> None:
        if values is not None:
            setattr(namespace, self.dest, values)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "pid", metavar="PID", type=int, nargs="?", action=_GivenOnly, help="the Python process (or -p)"
    )
    parser.add_argument(
        "interval",
        metavar="INTERVAL",
        type=float,
        nargs="?",
        action=_GivenOnly,
        help="report every this many seconds (or -i)",
    )
    parser.add_argument("-L", "--latency", action="store_true", help="show the time spent in the calls")
    parser.add_argument("-m", "--milliseconds", action="store_true", help="times in ms (default: us)")
    parser.add_argument("-T", "--top", type=int, help="functions per report (default: all)")
    parser.add_argument("--lines", action="store_true", help="a row per line the function returned from")


TOOL: Tool[Options, PythonCalls] = Tool(
    name="pycalls",
    summary="count the Python function calls of a CPython process (USDT), with their latency",
    options=Options,
    start=start,
    format=_format,
    header=_header,
    arguments=_arguments,
)
