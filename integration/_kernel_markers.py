"""Kernel version markers for the integration tests.

Use the marker (registered in pyproject.toml, applied by ``integration/conftest.py``)::

    @pytest.mark.requires_kernel("5.8", "ring buffer")
    def test_ringbuf_reader(): ...

or the same thing as a function (``integration/`` is on pytest's ``pythonpath``)::

    from _kernel_markers import requires_kernel

    @requires_kernel("5.8", "ring buffer")
    def test_ringbuf_reader(): ...

Either skips with "needs Linux 5.8+ for ring buffer; running 5.4.0-150-generic"
on an older kernel. The version check is deliberately local and tiny: the
library gets its own, and the tests must not trust the code they test.
"""

from __future__ import annotations

import os
import re

import pytest

__all__ = ["kernel_release", "parse_version", "requires_kernel", "skip_reason"]

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int]:
    """``"6.1.0-13-amd64"`` -> ``(6, 1, 0)``; ``"5.8"`` -> ``(5, 8, 0)``."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise ValueError(f"not a kernel version: {text!r} (expected MAJOR.MINOR[.PATCH][-suffix])")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def kernel_release() -> str:
    """The running kernel's release string, as ``uname -r`` prints it."""
    return os.uname().release


def skip_reason(version: str, feature: str, release: str | None = None) -> str | None:
    """Why a test needing ``feature`` (new in Linux ``version``) must skip, or ``None`` if it can run."""
    running = kernel_release() if release is None else release
    if parse_version(running) >= parse_version(version):
        return None
    return f"needs Linux {version}+ for {feature}; running {running}"


def requires_kernel(version: str, feature: str) -> pytest.MarkDecorator:
    """The ``requires_kernel`` marker, validated: ``@requires_kernel("5.8", "ring buffer")``."""
    parse_version(version)
    return pytest.mark.requires_kernel(version, feature)
