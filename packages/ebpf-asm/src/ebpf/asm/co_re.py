"""CO-RE relocation records carried by placeholder instructions.

A CO-RE ("compile once, run everywhere") instruction holds a value that
depends on the kernel's types: a field's offset or size, whether a type
exists, an enum's value. The instruction is built with a placeholder and a
[`CoreRelocation`][ebpf.asm.CoreRelocation] saying what it needs; ``ebpf.btf`` resolves the record
against the running kernel's BTF when the program is loaded and writes the
answer into the instruction's ``imm`` (or ``offset`` for loads and stores).

The kinds and their numbers are those of ``enum bpf_core_relo_kind`` in
``linux/bpf.h``; [`CoreKind`][ebpf.asm.CoreKind] is the library's one table of them
(``ebpf.btf`` reads ``.BTF.ext`` records into it), and a test holds it equal to
the generated ``ebpf.syscall.abi.CoreReloKind``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

__all__ = ["CoreKind", "CoreRelocation"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# "0:1:2": the raw accessor of BTF.ext; "pid", "sched_info.pcount", "args[2]": a named path.
_RAW = re.compile(r"^\d+(?::\d+)*$")
_NAMED = re.compile(rf"^{_NAME}(?:\[\d+\])*(?:\.{_NAME}(?:\[\d+\])*)*$")
_TYPE = re.compile(rf"^(?:(?:struct|union|enum|typedef) )?{_NAME}$")


class CoreKind(IntEnum):
    """What a CO-RE relocation computes (``enum bpf_core_relo_kind``)."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12

    @property
    def is_field(self) -> bool:
        """True for the kinds about a field of a struct or union."""
        return self <= CoreKind.FIELD_RSHIFT_U64

    @property
    def is_type(self) -> bool:
        """True for the kinds about a whole type (its id, existence, size or match)."""
        return CoreKind.TYPE_ID_LOCAL <= self <= CoreKind.TYPE_SIZE or self == CoreKind.TYPE_MATCHES

    @property
    def is_enum_value(self) -> bool:
        """True for the kinds about an enumerator."""
        return self in (CoreKind.ENUMVAL_EXISTS, CoreKind.ENUMVAL_VALUE)


@dataclass(frozen=True)
class CoreRelocation:
    """A CO-RE relocation record: ``kind`` of ``access`` in ``type_name``.

    ``access`` is either the raw accessor string of BTF.ext (``"0:1"``: the
    index of the base element, then member indices) or a named path
    (``"pid"``, ``"sched_info.pcount"``, ``"args[2]"``; for enum kinds the
    enumerator's name). Type kinds take ``"0"``.

    Examples:
        >>> CoreRelocation(CoreKind.FIELD_BYTE_OFFSET, "task_struct", "pid")
        CoreRelocation(kind=<CoreKind.FIELD_BYTE_OFFSET: 0>, type_name='task_struct', access='pid')
    """

    kind: CoreKind
    type_name: str
    access: str = "0"

    def __post_init__(self) -> None:
        """Check the record's shape.

        Raises:
            TypeError: ``kind`` is not a [`CoreKind`][ebpf.asm.CoreKind] value.
            ValueError: a malformed type name or access path, or a path that
                the kind cannot take.
        """
        if isinstance(self.kind, bool) or not isinstance(self.kind, int):
            raise TypeError(f"CoreRelocation kind must be a CoreKind, not {type(self.kind).__name__}")
        object.__setattr__(self, "kind", CoreKind(self.kind))
        if not isinstance(self.type_name, str) or not _TYPE.match(self.type_name):
            raise ValueError(
                f"CoreRelocation type name {self.type_name!r} is not a C type name (e.g. 'task_struct')"
            )
        if not isinstance(self.access, str) or not (_RAW.match(self.access) or _NAMED.match(self.access)):
            raise ValueError(
                f"CoreRelocation access {self.access!r} for {self.type_name!r} is neither a raw accessor "
                "('0:1:2') nor a field path ('pid', 'sched_info.pcount', 'args[2]')"
            )
        if not self.kind.is_field and not self.kind.is_enum_value and self.access != "0":
            raise ValueError(f"CoreRelocation {self.kind.name} is about a whole type: its access must be '0'")

    @property
    def is_raw(self) -> bool:
        """True when ``access`` is the raw ``"0:1"`` form rather than a named path."""
        return bool(_RAW.match(self.access))

    def __str__(self) -> str:
        """``field_byte_offset task_struct.pid`` (or ``task_struct:0:1`` for raw accessors)."""
        sep = ":" if self.is_raw else "."
        return f"{self.kind.name.lower()} {self.type_name}{sep}{self.access}"
