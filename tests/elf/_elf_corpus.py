"""The BPF C corpus of the ebpf.elf tests (``tests/bpf/elf/``), compiled on demand with clang."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bpf_build import compile_bpf

from ebpf.elf import CollectionSpec

__all__ = ["CORPUS", "EXAMPLES", "compiled", "require_tool", "spec_of"]

CORPUS = Path(__file__).resolve().parents[1] / "bpf" / "elf"
EXAMPLES = CORPUS / "examples"


def compiled(name: str, *, cflags: tuple[str, ...] = ()) -> Path:
    """The object of ``tests/bpf/elf/elf_<name>.c`` (skips the test when clang is missing)."""
    if shutil.which("clang") is None:
        pytest.skip("clang is not installed (apt-get install clang llvm libbpf-dev)")
    return compile_bpf(CORPUS / f"elf_{name}.c", cflags=cflags)


def spec_of(name: str) -> CollectionSpec:
    """The parsed spec of corpus program ``name``."""
    return CollectionSpec.from_file(compiled(name))


def require_tool(name: str) -> str:
    """The path of an oracle tool (``llvm-readelf``, ``bpftool``...), or skip."""
    path = shutil.which(name) or shutil.which(f"{name}-14")
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path
