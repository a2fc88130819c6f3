"""The tools' committed BPF objects are what their C sources compile to (as the generated ABI is checked).

``tools/gen_tool_objects.py`` builds them (``make regen``) with ``clang -O2 -g
-target bpf -c`` run in the source directory, then ``llvm-strip -g``. With the
clang recorded in ``bpf/BUILT_WITH`` the result is byte for byte the committed
object; another clang version produces other (equally valid) code, so the
comparison is skipped there with the reason.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import gen_tool_objects  # noqa: E402

SOURCES = gen_tool_objects.sources()


def test_every_source_has_its_object_and_every_tool_its_source() -> None:
    from ebpf.core.tools import TOOL_NAMES

    assert {s.name.removesuffix(".bpf.c") for s in SOURCES} == set(TOOL_NAMES)
    for source in SOURCES:
        for target in gen_tool_objects.objects_of(source):
            assert target.is_file(), f"{target.name}: run `make regen`"


def test_a_per_architecture_tool_has_an_object_for_each_machine_it_runs_on() -> None:
    from ebpf.core.tools._objects import TARGET_ARCHES

    for name, arches in gen_tool_objects.PER_ARCH.items():
        assert set(arches) == set(TARGET_ARCHES.values()), name


OBJECTS = [
    (source, target, flags)
    for source in SOURCES
    for target, flags in gen_tool_objects.objects_of(source).items()
]


@pytest.mark.parametrize(
    ("source", "target", "flags"), OBJECTS, ids=[target.name for _, target, _ in OBJECTS]
)
def test_the_committed_object_matches_its_source(source: Path, target: Path, flags: tuple[str, ...]) -> None:
    if shutil.which("clang") is None or shutil.which("llvm-strip") is None:
        pytest.skip("needs clang and llvm-strip (Debian: apt-get install clang llvm)")
    from bpf_build import clang_version

    built_with = gen_tool_objects.BUILT_WITH.read_text().strip()
    if clang_version() != built_with:
        pytest.skip(f"the objects were built with {built_with!r}, this is {clang_version()!r}")
    assert gen_tool_objects.build(source, flags) == target.read_bytes(), (
        f"{source.name} changed without {target.name}: run `make regen`"
    )


def test_the_syscall_name_table_is_what_the_headers_give() -> None:
    import gen_syscall_names

    if not (gen_syscall_names.X86_64.is_file() and gen_syscall_names.GENERIC.is_file()):
        pytest.skip("needs the kernel's UAPI headers (Debian: linux-libc-dev)")
    assert gen_syscall_names.TARGET.read_text() == gen_syscall_names.render(), "run `make regen`"
