"""bpftool prog loadall (libbpf) and Collection.load agree on which corpus objects load on this kernel."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ebpf.elf import Collection, CollectionSpec
from ebpf.syscall.errors import EbpfError
from tests.elf._elf_corpus import compiled, require_tool

OBJECTS = ["globals", "maps_calls", "ringbuf", "externs", "core_task", "sections"]


def _bpftool_loads(obj: Path, pin_dir: Path) -> bool:
    result = subprocess.run(
        [require_tool("bpftool"), "prog", "loadall", str(obj), str(pin_dir)], capture_output=True, check=False
    )
    shutil.rmtree(pin_dir, ignore_errors=True)
    return result.returncode == 0


def _we_load(obj: Path) -> bool:
    try:
        with Collection.load(CollectionSpec.from_file(obj)):
            return True
    except (EbpfError, OSError):
        return False


@pytest.mark.parametrize("name", OBJECTS)
def test_we_load_what_bpftool_loads(name: str, bpffs: Path) -> None:
    obj = compiled(name)
    assert _we_load(obj) == _bpftool_loads(obj, bpffs / "progs")
