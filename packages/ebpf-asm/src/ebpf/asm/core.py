"""Deprecated alias of [`ebpf.asm.co_re`][ebpf.asm.co_re], the CO-RE relocation records.

The module was renamed so that "core" means only the facade (``ebpf.core``)
and CO-RE is ``co_re``. Importing this module warns with a
`DeprecationWarning`; import [`CoreKind`][ebpf.asm.CoreKind] and
[`CoreRelocation`][ebpf.asm.CoreRelocation] from ``ebpf.asm`` (or
``ebpf.asm.co_re``) instead. It will be removed in a later release.
"""

from __future__ import annotations

import warnings

from .co_re import CoreKind, CoreRelocation

__all__ = ["CoreKind", "CoreRelocation"]

warnings.warn(
    "ebpf.asm.core is deprecated: import CoreKind and CoreRelocation from ebpf.asm (or ebpf.asm.co_re)",
    DeprecationWarning,
    stacklevel=2,
)
