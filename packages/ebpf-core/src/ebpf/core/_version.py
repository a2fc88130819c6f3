"""The version of the ``ebpf-core`` distribution.

Its one home: hatch reads it from here when it builds the distribution
(``[tool.hatch.version]`` in ``pyproject.toml``), and ``ebpf.core.__version__``
and ``ebpf --version`` read it from here, installed or in a source tree.
Every ebpf distribution has the same version (``tests/repo`` keeps them
equal).
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
