"""``ProgramSpec``: everything needed to load a program, as plain frozen data."""

from __future__ import annotations

import ctypes
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ebpf.syscall import AttachType, ProgLoadFlags, ProgType
from ebpf.syscall.abi import BpfFuncInfo, BpfLineInfo
from ebpf.syscall.commands import check_object_name

from ._section_names import parse_section

__all__ = ["EncodableInstruction", "ProgramSpec"]

#: ``sizeof(struct bpf_func_info)`` and ``sizeof(struct bpf_line_info)``.
FUNC_INFO_SIZE = ctypes.sizeof(BpfFuncInfo)
LINE_INFO_SIZE = ctypes.sizeof(BpfLineInfo)


@runtime_checkable
class EncodableInstruction(Protocol):
    """An instruction object that encodes itself to eBPF bytecode (``ebpf.asm`` instructions)."""

    def encode(self) -> bytes: ...


def _instruction_bytes(value: object) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    elif isinstance(value, Iterable) and not isinstance(value, str):
        parts = []
        for i, insn in enumerate(value):
            if not isinstance(insn, EncodableInstruction):
                raise TypeError(f"instruction {i} is a {type(insn).__name__}, which has no encode() method")
            parts.append(insn.encode())
        raw = b"".join(parts)
    else:
        raise TypeError(
            "instructions must be bytes or a sequence of instructions with encode(), "
            f"not {type(value).__name__}"
        )
    if not raw or len(raw) % 8:
        raise ValueError(f"instructions must be a non-empty multiple of 8 bytes, got {len(raw)} bytes")
    return raw


@dataclass(frozen=True)
class ProgramSpec:
    """A program to load: plain data, no descriptors, editable with `dataclasses.replace()`.

    Attributes:
        name: the kernel-visible name (at most 15 bytes of ``[A-Za-z0-9_.]``, may be empty).
        type: the program type.
        instructions: the bytecode, 8 bytes per instruction. Bytes-like
            objects and sequences of instruction objects with ``encode()``
            (``ebpf.asm``) are accepted and stored as ``bytes``.
        expected_attach_type: the attach type the program is verified for
            (cgroup hooks, fentry/fexit, iterators, kprobe_multi...), or ``None``.
        attach_to: the attach target known at load time: a kernel function
            for fentry/fexit/fmod_ret (``"module:function"`` for a module's),
            an LSM hook (``"file_open"``), a tracepoint for ``tp_btf``, an
            iterator (``"task"``), a function of the target program for
            freplace, ``"struct:member"`` for struct_ops; for other types, the
            default target of [`Program.attach()`][ebpf.progs.Program.attach] (``"syscalls/sys_enter_getpid"``
            for a tracepoint, a symbol for a kprobe...).
        license: the license string (``"GPL"`` unlocks GPL-only helpers).
        kernel_version: ``kern_version`` for kprobe programs on kernels before 5.0.
        flags: [`ProgLoadFlags`][ebpf.syscall.ProgLoadFlags] (``SLEEPABLE``, ``XDP_HAS_FRAGS``...).
        retprobe: for kprobes and uprobes: the default of [`Program.attach()`][ebpf.progs.Program.attach]
            is a return probe.
        syscall: for kprobes: ``attach_to`` names a system call (``ksyscall/``
            sections), and [`Program.attach()`][ebpf.progs.Program.attach] probes its wrapper function.
        btf: the program's BTF blob (needed for func/line info), or ``None``.
        func_info: ``struct bpf_func_info`` records, ``func_info_rec_size`` bytes each.
        line_info: ``struct bpf_line_info`` records, ``line_info_rec_size`` bytes each.

    Raises:
        TypeError, ValueError: (at construction) bad instructions, name,
            license or record sizes.
    """

    name: str
    type: ProgType
    instructions: bytes
    expected_attach_type: AttachType | None = None
    attach_to: str = ""
    license: str = "GPL"
    kernel_version: int = 0
    flags: ProgLoadFlags = ProgLoadFlags.NONE
    retprobe: bool = False
    syscall: bool = False
    btf: bytes | None = None
    func_info: bytes = b""
    func_info_rec_size: int = FUNC_INFO_SIZE
    line_info: bytes = b""
    line_info_rec_size: int = LINE_INFO_SIZE

    def __post_init__(self) -> None:
        object.__setattr__(self, "instructions", _instruction_bytes(self.instructions))
        check_object_name(self.name)
        object.__setattr__(self, "type", ProgType(self.type))
        if self.expected_attach_type is not None:
            object.__setattr__(self, "expected_attach_type", AttachType(self.expected_attach_type))
        object.__setattr__(self, "flags", ProgLoadFlags(self.flags))
        if "\0" in self.license:
            raise ValueError("license must not contain NUL")
        if not 0 <= self.kernel_version <= 0xFFFFFFFF:
            raise ValueError(f"kernel_version must fit in 32 bits, not {self.kernel_version}")
        for what, records, size, minimum in (
            ("func_info", self.func_info, self.func_info_rec_size, FUNC_INFO_SIZE),
            ("line_info", self.line_info, self.line_info_rec_size, LINE_INFO_SIZE),
        ):
            if size < minimum:
                raise ValueError(f"{what}_rec_size must be at least {minimum}, not {size}")
            if len(records) % size:
                raise ValueError(f"{what} is {len(records)} bytes, not a multiple of its record size {size}")
            if records and self.btf is None:
                raise ValueError(f"{what} needs the program's BTF (btf=...)")

    @property
    def instruction_count(self) -> int:
        """How many 8-byte instruction slots the program has (``ld_imm64`` takes two)."""
        return len(self.instructions) // 8

    @classmethod
    def from_section(
        cls,
        section: str,
        instructions: bytes | Iterable[EncodableInstruction],
        *,
        name: str = "",
        license: str = "GPL",
    ) -> ProgramSpec:
        """A spec whose type, expected attach type, target and flags come from a section name.

        Examples:
            >>> ProgramSpec.from_section("cgroup_skb/egress", bytes(16)).expected_attach_type
            <AttachType.CGROUP_INET_EGRESS: 1>

        Set the remaining attributes with `dataclasses.replace()`.

        Raises:
            ValueError: an unknown section name, and what the constructor raises.
        """
        parsed = parse_section(section)
        return cls(
            name=name,
            type=parsed.prog_type,
            instructions=instructions,  # type: ignore[arg-type]  # normalised in __post_init__
            expected_attach_type=parsed.attach_type,
            attach_to=parsed.target,
            license=license,
            flags=parsed.flags,
            retprobe=parsed.retprobe,
            syscall=parsed.syscall,
        )
