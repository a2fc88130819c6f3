"""The options every ready tool shares (``-p PID``, ``-c COMM``, ``-d``, ``-i``, ``-T``), as arguments too."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["CommonOptions", "IntervalOptions", "add_common_arguments", "options_from_args"]

#: The kernel's TASK_COMM_LEN less the terminating NUL.
_COMM_MAX = 15

OptionsT = TypeVar("OptionsT", bound="CommonOptions")


@dataclass(frozen=True)
class CommonOptions:
    """What every tool takes.

    Attributes:
        pid: only this process (``-p``); ``None`` for every process.
        comm: only tasks whose comm is exactly this (``-c``, at most 15 bytes).
        duration: stop after this many seconds (``-d``); ``None`` runs until
            closed or interrupted (Ctrl-C).
        timestamps: print the time of each record (``-T``); records always carry it.
        prometheus: serve the tool's counts and histograms as Prometheus
            metrics at this ``HOST:PORT`` while it runs (``--prometheus``;
            ``:PORT`` listens on every interface).
    """

    pid: int | None = None
    comm: str | None = None
    duration: float | None = None
    timestamps: bool = False
    prometheus: str | None = None

    def __post_init__(self) -> None:
        """Check the values before anything is loaded.

        Raises:
            ValueError: a pid below 1, an empty comm or one longer than 15
                bytes, a duration that is not positive, a ``prometheus``
                address that is not ``HOST:PORT``.
        """
        if self.pid is not None and self.pid < 1:
            raise ValueError(f"pid must be a positive process id, not {self.pid}")
        if self.comm is not None and not 0 < len(self.comm.encode()) <= _COMM_MAX:
            raise ValueError(
                f"comm must be 1 to {_COMM_MAX} bytes (the kernel's TASK_COMM_LEN - 1): {self.comm!r}"
            )
        if self.duration is not None and self.duration <= 0:
            raise ValueError(f"duration must be positive seconds, not {self.duration}")
        if self.prometheus is not None:
            from ebpf.core.prometheus import parse_address

            parse_address(self.prometheus)


@dataclass(frozen=True)
class IntervalOptions(CommonOptions):
    """The options of the tools that summarize (counts, histograms) rather than print each event.

    Attributes:
        interval: report every this many seconds (``-i``); ``None`` reports
            once, at the end of ``duration`` or when interrupted.
    """

    interval: float | None = None

    def __post_init__(self) -> None:
        """Check the values (see `CommonOptions`).

        Raises:
            ValueError: an interval that is not positive, or a bad common option.
        """
        super().__post_init__()
        if self.interval is not None and self.interval <= 0:
            raise ValueError(f"interval must be positive seconds, not {self.interval}")


def add_common_arguments(parser: argparse.ArgumentParser, *, interval: bool) -> None:
    """Add ``-p``, ``-c``, ``-d``, ``-T``, ``--json``, ``--prometheus`` and ``-q`` (and ``-i`` when
    ``interval``) to ``parser``; ``-T`` is only ``--timestamp`` where the tool's own arguments took ``-T``."""
    parser.add_argument("-p", "--pid", type=int, help="only this process")
    parser.add_argument("-c", "--comm", help="only tasks with this name (comm, exact)")
    parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    if interval:
        parser.add_argument("-i", "--interval", type=float, help="report every this many seconds")
    # A tool whose own -T means something else (pycalls' -T TOP, as bcc's) keeps --timestamp only.
    stamp = ("--timestamp",) if "-T" in parser._option_string_actions else ("-T", "--timestamp")
    parser.add_argument(*stamp, dest="timestamps", action="store_true", help="print times")
    parser.add_argument("--json", action="store_true", help="one JSON object per record (JSON Lines)")
    parser.add_argument(
        "--prometheus",
        metavar="HOST:PORT",
        help="serve counts and histograms as Prometheus metrics here while running (:PORT: all interfaces)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print no records (with --prometheus: only serve metrics)"
    )


def options_from_args(options: type[OptionsT], args: argparse.Namespace) -> OptionsT:
    """An ``options`` instance from the parsed arguments named as its fields.

    Raises:
        ValueError: a value the options refuse.
    """
    given: dict[str, Any] = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(options)
        if getattr(args, field.name, None) is not None
    }
    return options(**given)
