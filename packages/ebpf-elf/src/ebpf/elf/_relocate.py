"""Relocations of BPF code: what each relocated instruction refers to, and patching it at load.

clang leaves every reference to something outside the function as a
relocation against a symbol (``.rel<section>``, type ``R_BPF_64_64`` for the
two-slot ``ld_imm64`` and ``R_BPF_64_32`` for calls). Like libbpf's
``bpf_program__record_reloc`` they are read into [`Reference`][ebpf.elf.Reference] objects
that say *what* is referred to, by name: a map, a byte of a global data
section, a subprogram, a ``.kconfig`` or ``.ksyms`` extern, a kernel
function (kfunc). Loading then turns names into descriptors and BTF ids
(`apply_references()`), the way libbpf's ``bpf_object__relocate_data`` does.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from ebpf.asm import InsnClass, JmpOp, Mode, PseudoCall, PseudoLoad, Size

__all__ = [
    "INSN_SIZE",
    "Reference",
    "ReferenceKind",
    "ResolvedKsym",
    "apply_references",
    "is_call",
    "is_ld_imm64",
    "is_pseudo_call",
    "is_pseudo_func",
    "read_insn",
    "write_imm",
    "write_insn",
]

INSN_SIZE = 8
_INSN = struct.Struct("<BBhi")
#: ``BPF_LD | BPF_IMM | BPF_DW``: the two-slot 64-bit immediate load.
_LD_IMM64 = InsnClass.LD | Mode.IMM | Size.DW
#: ``BPF_JMP | BPF_CALL``.
_CALL = InsnClass.JMP | JmpOp.CALL


class ReferenceKind(enum.Enum):
    """What a relocated instruction refers to."""

    #: ``ld_imm64`` of a map's descriptor (``&my_map``): ``BPF_PSEUDO_MAP_FD``.
    MAP = "map"
    #: ``ld_imm64`` of an address inside a data map (a global variable): ``BPF_PSEUDO_MAP_VALUE``.
    MAP_VALUE = "map_value"
    #: a BPF-to-BPF call of a function in ``target_section`` at ``offset``.
    CALL = "call"
    #: ``ld_imm64`` of a function's address (a callback for ``bpf_loop``...): ``BPF_PSEUDO_FUNC``.
    FUNC_ADDRESS = "func_address"
    #: ``ld_imm64`` of a kernel symbol from ``.ksyms`` (an address or a BTF id, resolved at load).
    KSYM = "ksym"
    #: a call of a kernel function declared ``__ksym`` (``BPF_PSEUDO_KFUNC_CALL``, resolved at load).
    KFUNC = "kfunc"


@dataclass(frozen=True)
class Reference:
    """What one instruction refers to.

    Attributes:
        kind: see [`ReferenceKind`][ebpf.elf.ReferenceKind].
        name: the map (its name in the collection), or the extern symbol.
        offset: for ``MAP_VALUE``, the byte offset inside the map's value;
            for calls and function addresses, the byte offset of the target
            in ``section``.
        section: for calls and function addresses, the ELF section index of the target.
    """

    kind: ReferenceKind
    name: str = ""
    offset: int = 0
    section: int = 0


def read_insn(code: bytes | bytearray, index: int) -> tuple[int, int, int, int, int]:
    """``(opcode, dst, src, off, imm)`` of instruction ``index`` (little-endian BPF)."""
    op, regs, off, imm = _INSN.unpack_from(code, index * INSN_SIZE)
    return op, regs & 0xF, regs >> 4, off, imm


def write_insn(code: bytearray, index: int, op: int, dst: int, src: int, off: int, imm: int) -> None:
    """Overwrite instruction ``index`` (``imm`` taken as a 32-bit two's complement value)."""
    imm = (imm + (1 << 31)) % (1 << 32) - (1 << 31)
    _INSN.pack_into(code, index * INSN_SIZE, op, (src << 4) | dst, off, imm)


def write_imm(code: bytearray, index: int, imm: int, src: int | None = None) -> None:
    """Set the immediate (and, if given, the source register) of instruction ``index``."""
    op, regs, off, _ = _INSN.unpack_from(code, index * INSN_SIZE)
    if src is not None:
        regs = (regs & 0x0F) | (src << 4)
    # two's complement: addresses and offsets are stored as 32-bit halves
    imm = (imm + (1 << 31)) % (1 << 32) - (1 << 31)
    _INSN.pack_into(code, index * INSN_SIZE, op, regs, off, imm)


def is_ld_imm64(code: bytes | bytearray, index: int) -> bool:
    """Whether instruction ``index`` is the first slot of an ``ld_imm64``."""
    return code[index * INSN_SIZE] == _LD_IMM64


def is_call(code: bytes | bytearray, index: int) -> bool:
    """Whether instruction ``index`` is a call (of a helper, a subprogram or a kfunc)."""
    return code[index * INSN_SIZE] == _CALL


def is_pseudo_call(code: bytes | bytearray, index: int) -> bool:
    """Whether instruction ``index`` is a BPF-to-BPF call (``src == BPF_PSEUDO_CALL``)."""
    return is_call(code, index) and code[index * INSN_SIZE + 1] >> 4 == PseudoCall.FUNC


def is_pseudo_func(code: bytes | bytearray, index: int) -> bool:
    """Whether instruction ``index`` loads a function's address (``ld_imm64``, ``src == BPF_PSEUDO_FUNC``)."""
    return is_ld_imm64(code, index) and code[index * INSN_SIZE + 1] >> 4 == PseudoLoad.FUNC


@dataclass(frozen=True)
class ResolvedKsym:
    """A ``.ksyms`` extern as found in the running kernel.

    Attributes:
        address: an untyped extern's address (0 for a missing weak extern).
        btf_id: a typed variable's or a kernel function's BTF id (0 when a
            weak one is missing).
        btf_fd: for a module's variable or function: the descriptor of the
            module's BTF object (an ``ld_imm64``'s second half); 0 for vmlinux.
        fd_index: for a module's function: the index of that descriptor in
            the load's ``fd_array`` (a kfunc call's ``off``); 0 for vmlinux.
        poison: for a missing weak kernel function: the invalid helper number
            its calls become (libbpf's ``2002000000 + extern index``).
    """

    address: int = 0
    btf_id: int = 0
    btf_fd: int = 0
    fd_index: int = 0
    poison: int = 0


def apply_references(
    code: bytes,
    references: Mapping[int, Reference],
    map_fds: Mapping[str, int],
    ksyms: Mapping[str, ResolvedKsym],
    program: str,
) -> bytes:
    """``code`` with every map and extern reference turned into what the kernel expects.

    ``references`` maps instruction indexes to what they refer to (calls
    of subprograms were already linked). ``map_fds`` gives the descriptor
    of each map by name, ``ksyms`` each ``.ksyms`` extern as resolved. A map
    value load keeps its offset in the second slot's immediate, as
    ``bpf_object__relocate_data`` writes it. A kfunc call becomes
    ``BPF_PSEUDO_KFUNC_CALL`` with the function's BTF id and, for a
    module's, the ``fd_array`` index of its BTF in ``off``; a call of a
    missing weak kfunc is poisoned (an invalid helper call) as libbpf does.

    Raises:
        ValueError: a reference to a map that is not in ``map_fds`` (removed
            from the spec?), or to an instruction that is not an ``ld_imm64``
            or, for a kfunc, a call (the program's instructions were
            replaced after parsing).
    """
    patched = bytearray(code)
    count = len(code) // INSN_SIZE
    for index, ref in sorted(references.items()):
        if ref.kind is ReferenceKind.KFUNC:
            if index >= count or not is_call(patched, index):
                raise ValueError(
                    f"program {program!r}: instruction {index} should call kernel function {ref.name!r}: "
                    "were the instructions changed after parsing?"
                )
            found = ksyms[ref.name]
            if found.btf_id:
                write_insn(patched, index, _CALL, 0, PseudoCall.KFUNC, found.fd_index, found.btf_id)
            else:  # libbpf's poison_kfunc_call: reachable, the verifier says "invalid func unknown#..."
                write_insn(patched, index, _CALL, 0, 0, 0, found.poison)
            continue
        if index + 1 >= count or not is_ld_imm64(patched, index):
            raise ValueError(
                f"program {program!r}: instruction {index} should be an ld_imm64 referring to "
                f"{ref.kind.value} {ref.name!r}: were the instructions changed after parsing?"
            )
        if ref.kind in (ReferenceKind.MAP, ReferenceKind.MAP_VALUE):
            fd = map_fds.get(ref.name)
            if fd is None:
                raise ValueError(f"program {program!r} uses map {ref.name!r}, which the collection lacks")
            if ref.kind is ReferenceKind.MAP:
                write_imm(patched, index, fd, PseudoLoad.MAP_FD)
            else:
                write_imm(patched, index, fd, PseudoLoad.MAP_VALUE)
                write_imm(patched, index + 1, ref.offset)
        elif ref.kind is ReferenceKind.KSYM:
            found = ksyms[ref.name]
            if found.btf_id:
                # typed ksym or kfunc: BPF_PSEUDO_BTF_ID, the second slot is the BTF object's fd (0: vmlinux)
                write_imm(patched, index, found.btf_id, PseudoLoad.BTF_ID)
                write_imm(patched, index + 1, found.btf_fd)
            else:
                write_imm(patched, index, found.address & 0xFFFFFFFF, PseudoLoad.IMM)
                write_imm(patched, index + 1, found.address >> 32)
    return bytes(patched)
