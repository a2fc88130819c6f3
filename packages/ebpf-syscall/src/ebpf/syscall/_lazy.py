"""Public names imported on first use (PEP 562): the one ``__getattr__`` body of the lazy packages.

``ebpf.syscall``, ``ebpf.btf``, ``ebpf.elf``, ``ebpf.events`` and ``ebpf.progs``
list each public name with the module that defines it (``_HOMES``) and
import that module only when the name is first read, so that a program
pays only for the parts it uses (a ready tool starts in a fraction of a
second). Their module-level ``__getattr__`` calls ``import_public()``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = ["import_public"]


def import_public(
    package: str, homes: Mapping[str, str], namespace: MutableMapping[str, Any], name: str
) -> Any:
    """``name`` of ``package``, imported from its module in ``homes`` and kept in ``namespace``.

    A home of ``".name"`` is a public submodule: the module itself is the value.

    Raises:
        AttributeError: ``name`` is not in ``homes`` (not a public name of the package).
    """
    home = homes.get(name)
    if home is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    module = importlib.import_module(home, package)
    value = module if home == f".{name}" else getattr(module, name)
    namespace[name] = value
    return value
