"""bpftool prog loadall (libbpf) and Collection.load agree on which corpus objects load on this kernel."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ebpf.elf import Collection, CollectionSpec
from ebpf.maps import DEFAULT_PIN_ROOT, PinType
from ebpf.syscall.errors import EbpfError
from tests.elf._elf_corpus import compiled, require_tool

OBJECTS = ["globals", "maps_calls", "ringbuf", "externs", "core_task", "sections"]
NEWER_SECTIONS = {"tcx/ingress": "-DNO_TCX"}
"""Corpus sections an older libbpf does not know, with the define that leaves each out of its source."""


def _bpftool_loads(obj: Path, pin_dir: Path) -> tuple[bool, str]:
    """Whether ``bpftool prog loadall`` loads ``obj``, and what it wrote to stderr."""
    # libbpf pins BY_NAME maps under its default root, /sys/fs/bpf, whatever
    # directory loadall is given: remove the pins this run created there.
    by_name = [m.name for m in CollectionSpec.from_file(obj).maps.values() if m.pinning == PinType.BY_NAME]
    new_pins = [DEFAULT_PIN_ROOT / name for name in by_name if not (DEFAULT_PIN_ROOT / name).exists()]
    try:
        result = subprocess.run(
            [require_tool("bpftool"), "prog", "loadall", str(obj), str(pin_dir)],
            capture_output=True,
            check=False,
            text=True,
        )
    finally:
        shutil.rmtree(pin_dir, ignore_errors=True)
        for pin in new_pins:
            pin.unlink(missing_ok=True)
    return result.returncode == 0, result.stderr


def _we_load(obj: Path, pin_root: Path) -> bool:
    try:
        with Collection.load(CollectionSpec.from_file(obj), pin_root=pin_root):
            return True
    except (EbpfError, OSError):
        return False


@pytest.mark.parametrize("name", OBJECTS)
def test_we_load_what_bpftool_loads(name: str, bpffs: Path) -> None:
    obj = compiled(name)
    bpftool_loads, stderr = _bpftool_loads(obj, bpffs / "progs")
    # libbpf refuses a whole object over one section name it does not know
    # (tcx/ needs libbpf 1.3; Debian 12's bpftool has 1.1), which says
    # nothing about the kernel: compare on the object without that section.
    unknown = re.search(r"failed to guess program type from ELF section '([^']*)'", stderr)
    if not bpftool_loads and unknown and unknown[1] in NEWER_SECTIONS:
        obj = compiled(name, cflags=(NEWER_SECTIONS[unknown[1]],))
        bpftool_loads, stderr = _bpftool_loads(obj, bpffs / "progs")
    assert _we_load(obj, bpffs) == bpftool_loads, stderr
