"""Compile the BPF C test programs with clang, cached by content.

Test suites call :func:`compile_bpf` on a source under ``tests/bpf/`` (or
``integration/bpf/``) and get the path of the object file::

    from bpf_build import compile_bpf

    obj = compile_bpf(Path("tests/bpf/asm_maps.c"), cflags=("-mcpu=v3",))

The object is built with ``clang -O2 -g -target bpf -c`` into
``tests/bpf/build/`` (gitignored), under a name derived from a hash of the
source, of the local headers it includes, of the flags and of the clang
version, so an unchanged program is compiled once. The Debian/Ubuntu
multiarch include directory is added so that ``<linux/bpf.h>`` finds
``<asm/types.h>``, and ``<bpf/bpf_helpers.h>`` comes from ``libbpf-dev``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["BUILD_DIR", "BpfBuildError", "clang_version", "compile_bpf", "include_flags"]

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "tests" / "bpf" / "build"
BASE_FLAGS = ("-O2", "-g", "-target", "bpf", "-c")
_LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


class BpfBuildError(RuntimeError):
    """clang is missing or failed; the message says which package to install or what clang printed."""


def _clang() -> str:
    clang = shutil.which(os.environ.get("CLANG", "clang"))
    if clang is None:
        raise BpfBuildError(
            "clang is not installed: the BPF C test programs need it "
            "(Debian/Ubuntu: `apt-get install clang llvm libbpf-dev`, or `make setup`)"
        )
    return clang


def clang_version() -> str:
    """The first line of ``clang --version``.

    Raises:
        BpfBuildError: clang is missing.
    """
    out = subprocess.run([_clang(), "--version"], check=True, capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "unknown"


def include_flags() -> list[str]:
    """The ``-I`` of this host's multiarch include directory (``<asm/types.h>``, ``<asm/errno.h>``)."""
    multiarch = sysconfig.get_config_var("MULTIARCH")
    candidates = [Path("/usr/include") / multiarch] if isinstance(multiarch, str) and multiarch else []
    candidates.append(Path("/usr/include") / f"{os.uname().machine}-linux-gnu")
    return [f"-I{path}" for path in candidates if path.is_dir()][:1]


def _digest(source: Path, flags: Sequence[str]) -> str:
    hasher = hashlib.sha256()
    seen: set[Path] = set()
    pending = [source]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        text = path.read_bytes()
        hasher.update(str(path.name).encode() + b"\0" + text)
        for name in _LOCAL_INCLUDE.findall(text.decode("utf-8", "replace")):
            local = (path.parent / name).resolve()
            if local.is_file():
                pending.append(local)
    hasher.update("\0".join(flags).encode())
    hasher.update(clang_version().encode())
    return hasher.hexdigest()[:16]


def compile_bpf(source: Path, *, cflags: Sequence[str] = ()) -> Path:
    """Compile ``source`` with ``clang -O2 -g -target bpf -c`` (plus ``cflags``) and return the object's path.

    A previous build of the same source, local headers, flags and clang
    is reused.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        BpfBuildError: clang is missing (the message names the Debian
            packages) or the compilation failed (with clang's output).
    """
    source = Path(source).resolve()
    if not source.is_file():
        raise FileNotFoundError(f"no BPF C source at {source}")
    flags = [*BASE_FLAGS, *include_flags(), *cflags]
    target = BUILD_DIR / f"{source.stem}-{_digest(source, flags)}.o"
    if target.is_file():
        return target
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    # Compile to a temporary name and rename: concurrent test runs never see half an object.
    fd, tmp = tempfile.mkstemp(dir=BUILD_DIR, suffix=".o.tmp")
    os.close(fd)
    try:
        result = subprocess.run(
            [_clang(), *flags, str(source), "-o", tmp], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise BpfBuildError(f"clang failed on {source} ({' '.join(flags)}):\n{result.stderr.strip()}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
