"""The version of the ``ebpf-core`` distribution, from its installed metadata.

A module of its own so that ``import ebpf.core`` does not pay for
``importlib.metadata`` (tens of milliseconds): the facade imports it on first
use of ``ebpf.core.__version__``, and ``ebpf --version`` when it builds its
parser. Every ebpf distribution has the same version (one number, in the
``pyproject.toml`` of each, kept equal by ``tests/repo``).
"""

from __future__ import annotations

from importlib.metadata import version

__all__ = ["__version__"]

#: ``"0.1.0"``; raises ``importlib.metadata.PackageNotFoundError`` on import
#: when ``ebpf-core`` is not installed (imported from a source tree).
__version__: str = version("ebpf-core")
