"""Helpers shared by the ebpf.btf unit and integration tests."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

VMLINUX = Path("/sys/kernel/btf/vmlinux")
BPF_DIR = Path(__file__).resolve().parents[1] / "bpf"
_CACHE = Path(tempfile.gettempdir()) / "ebpf-btf-test-objects"


def need_tool(name: str) -> str:
    """The path of ``name``, or skip the test saying what is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (make setup installs it)")
    return path


def compile_c(source: Path | str, *, cflags: tuple[str, ...] = (), name: str = "prog") -> Path:
    """Compile BPF C (a file or the text itself) with ``clang -O2 -g -target bpf``, cached by content."""
    clang = need_tool("clang")
    text = source.read_text() if isinstance(source, Path) else source
    key = hashlib.sha256((text + "\0".join(cflags)).encode()).hexdigest()[:16]
    _CACHE.mkdir(exist_ok=True)
    out = _CACHE / f"{name}-{key}.o"
    if not out.exists():
        src = _CACHE / f"{name}-{key}.c"
        src.write_text(text)
        include = [f"-I{BPF_DIR}"] if isinstance(source, str) else [f"-I{source.parent}"]
        tmp = out.with_suffix(".tmp")
        subprocess.run(
            [clang, "-O2", "-g", "-target", "bpf", *include, *cflags, "-c", str(src), "-o", str(tmp)],
            check=True,
            capture_output=True,
        )
        tmp.rename(out)
    return out
