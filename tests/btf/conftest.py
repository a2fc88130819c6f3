"""Fixtures of the ebpf.btf unit tests: the running kernel's BTF, parsed once."""

from __future__ import annotations

import pytest

from ebpf.btf import TypeGraph, load_vmlinux
from tests.btf._btf_support import VMLINUX


@pytest.fixture(scope="session")
def vmlinux() -> TypeGraph:
    """This machine's kernel types (skips where the kernel has no BTF)."""
    if not VMLINUX.exists():
        pytest.skip("the kernel exposes no BTF at /sys/kernel/btf/vmlinux")
    return load_vmlinux()
