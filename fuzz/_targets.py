"""The registry of fuzz targets: every ``fuzz/fuzz_*.py`` module.

A target module defines ``NAME`` (str), ``ALLOWED`` (the exceptions a
malformed input may raise, already swallowed by the target),
``one_input(data: bytes) -> None`` and ``seeds() -> list[bytes]``. A target
whose package is not importable yet (a sibling still being written) is
reported as unavailable rather than failing the whole run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

__all__ = ["FUZZ_DIR", "Target", "load", "names"]

FUZZ_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Target:
    """A loaded fuzz target."""

    name: str
    module: str
    one_input: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    allowed: tuple[type[BaseException], ...]


def names() -> list[str]:
    """The module names of every target (``fuzz_btf``...), sorted."""
    return sorted(path.stem for path in FUZZ_DIR.glob("fuzz_*.py"))


def _attribute(module: ModuleType, name: str) -> object:
    try:
        return getattr(module, name)
    except AttributeError:
        raise TypeError(f"fuzz target {module.__name__} lacks {name}") from None


def load(module_name: str) -> Target:
    """Import ``fuzz.<module_name>`` and return it as a :class:`Target`.

    Raises:
        ImportError: the target (or the package it fuzzes) cannot be imported.
        TypeError: the module is not a fuzz target.
    """
    module = importlib.import_module(f"fuzz.{module_name}")
    one_input, seeds = _attribute(module, "one_input"), _attribute(module, "seeds")
    name, allowed = _attribute(module, "NAME"), _attribute(module, "ALLOWED")
    if not callable(one_input) or not callable(seeds) or not isinstance(name, str):
        raise TypeError(f"fuzz target {module_name} is malformed")
    if not isinstance(allowed, tuple):
        raise TypeError(f"fuzz target {module_name}: ALLOWED must be a tuple")
    return Target(name, module_name, one_input, seeds, allowed)
