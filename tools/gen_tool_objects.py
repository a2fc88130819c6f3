"""Compile the ready tools' BPF C sources into the CO-RE objects ebpf-core ships, or check them.

``ebpf/core/tools/bpf/NAME.bpf.c`` -> ``NAME.bpf.o`` beside it, with the flags of
the test programs (``bpf_build.BASE_FLAGS``: ``clang -O2 -g -target bpf -c``),
then ``llvm-strip -g`` as libbpf-tools do: the DWARF goes (it would carry this
checkout's directory), ``.BTF`` and ``.BTF.ext`` stay. clang runs in the
source directory on the file's bare name, and ``-fdebug-prefix-map`` turns that
directory into ``.`` (the BTF line info names each file by its directory and
name, the headers included too), so nothing in the object depends on where the
repository is: with the same clang the output is byte for byte the committed
object.

    python tools/gen_tool_objects.py render   # rebuild the objects (make regen)
    python tools/gen_tool_objects.py check    # exit 1 when a rebuild would change one

A tool whose programs read a uprobe's registers (``struct pt_regs``, laid out
per architecture: USDT arguments) gets one object per target instead,
``NAME.ARCH.bpf.o`` built with ``-D__TARGET_ARCH_ARCH`` (`PER_ARCH`), and
with the multiarch include directory (``<asm/errno.h>`` for libbpf's
``usdt.bpf.h``; its content is the same on every architecture).

The clang that built the committed objects is recorded in ``bpf/BUILT_WITH``;
``tests/core/test_core_tool_objects.py`` rebuilds each object when the local
clang is that one and compares bytes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bpf_build import BASE_FLAGS, BpfBuildError, clang_version, include_flags

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "packages" / "ebpf-core" / "src" / "ebpf" / "core" / "tools" / "bpf"
BUILT_WITH = SOURCE_DIR / "BUILT_WITH"
#: The tools built once per architecture (their ``__TARGET_ARCH_*`` names), as ``NAME.ARCH.bpf.o``.
PER_ARCH: dict[str, tuple[str, ...]] = {"pycalls": ("x86", "arm64")}


def sources() -> list[Path]:
    """The tools' C sources, by name."""
    return sorted(SOURCE_DIR.glob("*.bpf.c"))


def objects_of(source: Path) -> dict[Path, tuple[str, ...]]:
    """The committed objects of ``source`` and the extra clang flags of each.

    ``x.bpf.c`` -> ``x.bpf.o``; a `PER_ARCH` tool -> ``x.ARCH.bpf.o`` for each of its architectures.
    """
    name = source.name.removesuffix(".bpf.c")
    if name not in PER_ARCH:
        return {source.with_suffix(".o"): ()}
    return {
        source.with_name(f"{name}.{arch}.bpf.o"): (f"-D__TARGET_ARCH_{arch}", *include_flags())
        for arch in PER_ARCH[name]
    }


def build(source: Path, flags: tuple[str, ...] = ()) -> bytes:
    """Compile ``source`` (with the extra ``flags`` of `objects_of`) and strip it; the object's bytes.

    Raises:
        BpfBuildError: clang or llvm-strip is missing or failed.
    """
    clang = shutil.which(os.environ.get("CLANG", "clang"))
    strip = shutil.which(os.environ.get("LLVM_STRIP", "llvm-strip"))
    if clang is None or strip is None:
        raise BpfBuildError(
            "clang and llvm-strip are needed (Debian/Ubuntu: `apt-get install clang llvm libbpf-dev`)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.bpf.o"
        result = subprocess.run(
            [
                clang,
                *BASE_FLAGS,
                *flags,
                f"-fdebug-prefix-map={source.parent}=.",
                source.name,
                "-o",
                str(out),
            ],
            cwd=source.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BpfBuildError(f"clang failed on {source}:\n{result.stderr.strip()}")
        subprocess.run([strip, "-g", str(out)], check=True)
        return out.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("render", "check"))
    args = parser.parse_args(argv)
    stale = []
    for source in sources():
        for target, flags in objects_of(source).items():
            data = build(source, flags)
            if args.action == "render":
                if not target.is_file() or target.read_bytes() != data:
                    target.write_bytes(data)
                    print(f"wrote {target.relative_to(ROOT)}")
            elif not target.is_file() or target.read_bytes() != data:
                stale.append(target.relative_to(ROOT))
    if args.action == "render":
        BUILT_WITH.write_text(clang_version() + "\n")
        return 0
    for path in stale:
        print(f"{path} does not match its source: run `make regen`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
