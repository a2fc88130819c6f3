"""What a ready tool is: options, a tracer producing typed records, and a text formatter."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ._options import CommonOptions, IntervalOptions, add_common_arguments, options_from_args
from ._tracer import Tracer

__all__ = ["Record", "Tool", "time_column"]

OptionsT = TypeVar("OptionsT", bound=CommonOptions)
R = TypeVar("R", bound="Record")


class Record(Protocol):
    """A tool's output: an event or a summary, as data."""

    def to_dict(self) -> dict[str, Any]:
        """The record's fields, JSON-ready (what ``--json`` prints)."""
        ...


def time_column(options: CommonOptions, when: float | None = None) -> str:
    """The ``-T`` column: its header (``when`` is ``None``) or ``"HH:MM:SS  "``; ``""`` without ``-T``."""
    if not options.timestamps:
        return ""
    return "TIME      " if when is None else time.strftime("%H:%M:%S  ", time.localtime(when))


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


@dataclass(frozen=True)
class Tool(Generic[OptionsT, R]):
    """A ready tool, as ``ebpf tool NAME`` runs it and Python code imports it.

    Attributes:
        name: the command name (``execsnoop``).
        summary: one line on what it shows.
        options: its options dataclass (a `CommonOptions`; an `IntervalOptions` for summaries).
        start: loads and attaches, returns the running [`Tracer`][ebpf.core.tools.Tracer].
        format: one record as text (the ``options`` say whether to show times).
        header: the column header of the text output (``None``: none).
        arguments: adds the tool's own command-line arguments (dest = option field names).
    """

    name: str
    summary: str
    options: type[OptionsT]
    start: Callable[[OptionsT], Tracer[R]]
    format: Callable[[R, OptionsT], str]
    header: Callable[[OptionsT], str | None]
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments

    def parser(self, prog: str) -> argparse.ArgumentParser:
        """The command-line parser of the tool (its own arguments and the common ones)."""
        parser = argparse.ArgumentParser(prog=prog, description=self.summary)
        self.arguments(parser)
        add_common_arguments(parser, interval=issubclass(self.options, IntervalOptions))
        return parser

    def parse_options(self, args: argparse.Namespace) -> OptionsT:
        """The options from parsed command-line arguments.

        Raises:
            ValueError: a value the options refuse.
        """
        return options_from_args(self.options, args)
