"""Compiling BPF C with clang, for [`CollectionSpec.from_c()`][ebpf.elf.CollectionSpec.from_c], cached by
content.

The compiler is only needed here: loading objects never runs it. Sources
are built as libbpf's examples are (``clang -O2 -g -target bpf``, with
``__TARGET_ARCH_<arch>`` for ``bpf_tracing.h``); the Debian/Ubuntu multiarch
include directory is added so ``<linux/bpf.h>`` finds ``<asm/types.h>``. A
``vmlinux.h`` describing the running kernel (written by
[`ebpf.btf.dump_c()`][ebpf.btf.dump_c]) is on the include path when the source includes
it. Objects are cached under ``$XDG_CACHE_HOME/ebpf/elf`` (or ``cache_dir``)
by a hash of the source, its local headers, the flags, the clang version
and, when used, the kernel's BTF.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ebpf.btf import dump_c, load_vmlinux
from ebpf.syscall.errors import EbpfError

__all__ = ["CompileError", "compile_c"]

_BASE_FLAGS = ("-O2", "-g", "-target", "bpf", "-c")
_LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
# bpf_tracing.h picks the register layout of pt_regs by __TARGET_ARCH_<arch>
_TARGET_ARCH = {
    "x86_64": "x86",
    "aarch64": "arm64",
    "s390x": "s390",
    "ppc64le": "powerpc",
    "riscv64": "riscv",
    "loongarch64": "loongarch",
}
_INSTALL_HINT = "Debian/Ubuntu: apt-get install clang libbpf-dev; Fedora: dnf install clang libbpf-devel"


class CompileError(EbpfError):
    """clang is missing (the message names the packages to install) or rejected the source (its output)."""


def _clang() -> str:
    clang = shutil.which(os.environ.get("CLANG", "clang"))
    if clang is None:
        raise CompileError(f"clang is not installed: compiling BPF C needs it ({_INSTALL_HINT})")
    return clang


def _cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ebpf" / "elf"


def _system_includes() -> list[str]:
    machine = os.uname().machine
    multiarch = Path("/usr/include") / f"{machine}-linux-gnu"
    flags = [f"-I{multiarch}"] if multiarch.is_dir() else []
    arch = _TARGET_ARCH.get(machine)
    if arch is not None:
        flags.append(f"-D__TARGET_ARCH_{arch}")
    return flags


def _vmlinux_header(cache: Path) -> Path:
    """The directory holding ``vmlinux.h`` for the running kernel, written once per kernel BTF."""
    vmlinux = load_vmlinux()  # the process-wide graph: read once, shared with loading
    directory = cache / "include" / hashlib.sha256(vmlinux.data).hexdigest()[:16]
    header = directory / "vmlinux.h"
    if not header.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".h.tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dump_c(vmlinux))
        os.replace(tmp, header)
    return directory


def _local_headers(text: str, directory: Path | None) -> bytes:
    """The contents of the ``#include "..."`` headers next to the source (for the cache key)."""
    if directory is None:
        return b""
    seen: set[Path] = set()
    pending = [text]
    parts = []
    while pending:
        for name in _LOCAL_INCLUDE.findall(pending.pop()):
            path = (directory / name).resolve()
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            content = path.read_text(encoding="utf-8", errors="replace")
            parts.append(name.encode() + b"\0" + content.encode())
            pending.append(content)
    return b"\0".join(parts)


def compile_c(
    source: str | os.PathLike[str],
    *,
    cflags: Sequence[str] = (),
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Compile BPF C (a path, or the text itself as a ``str``) and return the cached object's path.

    Raises:
        CompileError: clang is missing or failed.
        OSError: the source or the cache directory cannot be read or written.
    """
    if isinstance(source, str):
        text, directory, stem = source, None, "source"
    else:
        path = Path(source)
        text, directory, stem = path.read_text(encoding="utf-8"), path.resolve().parent, path.stem
    cache = _cache_dir(cache_dir)
    clang = _clang()
    flags = [*_BASE_FLAGS, *_system_includes()]
    if directory is not None:
        flags.append(f"-I{directory}")
    if "vmlinux.h" in text:
        flags.append(f"-I{_vmlinux_header(cache)}")
    flags.extend(cflags)
    version = subprocess.run([clang, "--version"], capture_output=True, text=True, check=False).stdout
    key = hashlib.sha256(
        "\0".join([text, *flags, version]).encode() + _local_headers(text, directory)
    ).hexdigest()[:16]
    target = cache / f"{stem}-{key}.o"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".o.tmp")
    os.close(fd)
    try:
        result = subprocess.run(
            [clang, *flags, "-x", "c", "-", "-o", tmp],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            hint = f" ({_INSTALL_HINT})" if "bpf/bpf_helpers.h' file not found" in result.stderr else ""
            raise CompileError(f"clang failed on {stem}{hint}:\n{result.stderr.strip()}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
