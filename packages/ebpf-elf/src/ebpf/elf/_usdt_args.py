"""USDT argument specs (``-4@%eax``, ``8@-8(%rbp)``, ``-4@[sp, 12]``) and libbpf's ``struct __bpf_usdt_spec``.

A SystemTap probe note lists where each argument of the probe lives at the
probe's ``nop``, as ``SIZE@LOCATION`` separated by spaces: ``SIZE`` is 1, 2,
4 or 8 bytes, negative for a signed value; ``LOCATION`` is the assembler's
operand, in the syntax of the target architecture:

| kind                      | x86_64                   | aarch64                 |
|---------------------------|--------------------------|-------------------------|
| constant                  | `$5`, `$-9`              | `5`, `-9`               |
| register                  | `%rdi`, `%r12d`, `%al`   | `x0`, `w1`, `sp`        |
| memory at register+offset | `-8(%rbp)`, `(%rdi)`     | `[sp, 12]`, `[x1]`      |
| memory, scaled index      | `-96(%rbp,%rax,8)`       | (none)                  |

[`UsdtArgument`][ebpf.elf.UsdtArgument] is one parsed argument;
[`encode_usdt_spec()`][ebpf.elf.encode_usdt_spec] lays a probe's arguments out
as the ``struct __bpf_usdt_spec`` that libbpf's ``<bpf/usdt.bpf.h>`` reads
in ``bpf_usdt_arg()`` (so BPF C written with ``BPF_USDT()`` runs unchanged)::

    struct __bpf_usdt_arg_spec {     /* 16 bytes */
        __u64 val_off;               /*  0: constant, or memory offset */
        enum __bpf_usdt_arg_type arg_type;  /* 8: CONST 0, REG 1, REG_DEREF 2 */
        short reg_off;               /* 12: offsetof(struct pt_regs, reg) */
        bool arg_signed;             /* 14 */
        char arg_bitshift;           /* 15: 64 - 8 * size */
    };
    struct __bpf_usdt_spec {         /* 208 bytes */
        struct __bpf_usdt_arg_spec args[12];  /* 0 */
        __u64 usdt_cookie;           /* 192 */
        short arg_cnt;               /* 200 */
    };

A sub-register (``%eax``, ``%al``, ``w1``) is read as its whole 64-bit
register: the ``arg_bitshift`` of the argument's size keeps only its low
bytes, as libbpf does. Register offsets are those of the *target's*
``struct pt_regs`` (what a uprobe program's context points to).
"""

from __future__ import annotations

import enum
import re
import struct
import sys
from dataclasses import dataclass

from ebpf.syscall.errors import LibraryLimitError, ParseError

__all__ = [
    "USDT_MAX_ARGS",
    "USDT_SPEC_SIZE",
    "UsdtArgKind",
    "UsdtArgument",
    "encode_usdt_spec",
    "parse_usdt_arguments",
]

#: ``BPF_USDT_MAX_ARG_CNT`` of ``usdt.bpf.h``: the most arguments a spec holds.
USDT_MAX_ARGS = 12
#: ``sizeof(struct __bpf_usdt_arg_spec)``.
USDT_ARG_SPEC_SIZE = 16
#: ``sizeof(struct __bpf_usdt_spec)``: 12 argument specs, the cookie, the count, padded to 8.
USDT_SPEC_SIZE = 208

#: ``machine`` names this module knows the registers of (``e_machine`` 62 and 183).
MACHINES = ("x86_64", "aarch64")


class UsdtArgKind(enum.IntEnum):
    """Where an argument lives: ``enum __bpf_usdt_arg_type`` of ``usdt.bpf.h`` (``BPF_USDT_ARG_*``).

    ``SIB`` (x86 base + index * scale) is what newer libbpf numbers 3; the
    ``usdt.bpf.h`` of libbpf 1.1 (Debian 12) cannot read it.
    """

    CONST = 0
    REG = 1
    REG_DEREF = 2
    SIB = 3


def _x86_64_registers() -> dict[str, int]:
    """Every x86_64 register name sdt.h can write, to ``offsetof(struct pt_regs, <64-bit register>)``."""
    # struct pt_regs of arch/x86/include/uapi/asm/ptrace.h, in field order
    fields = (
        *("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax"),
        *("rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss"),
    )
    offset = {name: 8 * i for i, name in enumerate(fields)}
    names: dict[str, int] = {"rip": offset["rip"], "eip": offset["rip"]}
    for reg, r32, r16, r8 in (
        ("rax", "eax", "ax", "al"),
        ("rbx", "ebx", "bx", "bl"),
        ("rcx", "ecx", "cx", "cl"),
        ("rdx", "edx", "dx", "dl"),
        ("rsi", "esi", "si", "sil"),
        ("rdi", "edi", "di", "dil"),
        ("rbp", "ebp", "bp", "bpl"),
        ("rsp", "esp", "sp", "spl"),
    ):
        for name in (reg, r32, r16, r8):
            names[name] = offset[reg]
    for n in range(8, 16):
        for suffix in ("", "d", "w", "b"):
            names[f"r{n}{suffix}"] = offset[f"r{n}"]
    return names


def _aarch64_registers() -> dict[str, int]:
    """aarch64 register names to ``offsetof(struct user_pt_regs, ...)``: ``regs[31]``, then ``sp``."""
    names = {f"{prefix}{n}": 8 * n for n in range(31) for prefix in ("x", "w")}
    names["sp"] = 8 * 31
    return names


_REGISTERS = {"x86_64": _x86_64_registers(), "aarch64": _aarch64_registers()}

# one argument: SIZE@LOCATION, where an aarch64 memory operand "[sp, 12]" holds a space
_ARGUMENT = re.compile(r"\s*(?P<size>[+-]?\d+)@(?P<location>\[[^\]]*\]|\S+)")
_INT = r"[+-]?(?:0[xX][0-9a-fA-F]+|\d+)"
_X86_CONST = re.compile(rf"\$(?P<value>{_INT})")
_X86_REG = re.compile(r"%(?P<reg>[a-z0-9]+)")
_X86_MEM = re.compile(
    rf"(?:(?P<num>{_INT})|(?P<sym>[A-Za-z_.][\w.$@]*)(?P<symoff>[+-]\d+)?)?"
    r"\(%(?P<reg>[a-z0-9]+)(?:,%(?P<index>[a-z0-9]+)(?:,(?P<scale>\d+))?)?\)"
)
_ARM_CONST = re.compile(rf"#?(?P<value>{_INT})")
_ARM_REG = re.compile(r"(?P<reg>[a-z][a-z0-9]*)")
_ARM_MEM = re.compile(rf"\[\s*(?P<reg>[a-z][a-z0-9]*)\s*(?:,\s*#?(?P<disp>{_INT})\s*)?\]")


@dataclass(frozen=True)
class UsdtArgument:
    """One argument of a USDT probe, parsed from its ``SIZE@LOCATION`` spec.

    ``size`` is 1, 2, 4 or 8 bytes and ``signed`` its sign (a negative
    ``SIZE``). ``kind`` says where the value is: a constant ``value``
    (``CONST``); ``register`` (``REG``); memory at ``register`` + ``offset``
    (``REG_DEREF``); or at ``register`` + ``index`` * ``scale`` + ``offset``
    (``SIB``). ``register`` and ``index`` are named as written, without ``%``
    (``"eax"``, ``"x0"``); ``reg_off`` and ``index_reg_off`` are their
    ``offsetof(struct pt_regs, ...)`` on the target. ``symbol`` is set for a
    memory operand relative to a symbol (``counter(%rip)``), which libbpf's
    spec cannot express. ``text`` is the spec as written (``"-4@%eax"``).
    """

    text: str
    size: int
    signed: bool
    kind: UsdtArgKind
    value: int = 0
    register: str = ""
    reg_off: int = 0
    offset: int = 0
    index: str = ""
    index_reg_off: int = 0
    scale: int = 1
    symbol: str = ""

    @property
    def bitshift(self) -> int:
        """``arg_bitshift``: the high bits ``bpf_usdt_arg()`` clears (or sign-extends), ``64 - 8 * size``."""
        return 64 - 8 * self.size

    @property
    def type_name(self) -> str:
        """The value's C-like type: ``"i32"``, ``"u64"``."""
        return f"{'i' if self.signed else 'u'}{8 * self.size}"

    def describe(self, machine: str = "x86_64") -> str:
        """The argument in words: ``"i64 in %rdi"``, ``"u32 at -8(%rbp)"``, ``"const 5"``.

        ``machine`` picks the operand syntax (``"x86_64"`` or ``"aarch64"``).
        """
        if self.kind == UsdtArgKind.CONST:
            return f"const {self.value}"
        x86 = machine == "x86_64"
        reg = f"%{self.register}" if x86 else self.register
        if self.kind == UsdtArgKind.REG:
            return f"{self.type_name} in {reg}"
        where = self.symbol or (str(self.offset) if self.offset else "")
        if self.symbol and self.offset:
            where += f"{self.offset:+d}"
        if not x86:
            return f"{self.type_name} at [{reg}{f', {self.offset}' if self.offset else ''}]"
        if self.kind == UsdtArgKind.SIB:
            return f"{self.type_name} at {where}({reg},%{self.index},{self.scale})"
        return f"{self.type_name} at {where}({reg})"

    def encode(self, *, byteorder: str = sys.byteorder) -> bytes:
        """This argument as the 16 bytes of a ``struct __bpf_usdt_arg_spec``.

        Raises:
            LibraryLimitError: a ``SIB`` or symbol-relative operand, which the
                ``usdt.bpf.h`` this encoding serves cannot read.
        """
        if self.kind == UsdtArgKind.SIB or self.symbol:
            raise LibraryLimitError(
                f"USDT argument {self.text!r}: {'a symbol-relative' if self.symbol else 'an indexed'} "
                "operand is not expressible in libbpf's struct __bpf_usdt_arg_spec as read by usdt.bpf.h"
            )
        val_off = self.value if self.kind == UsdtArgKind.CONST else self.offset
        order = "<" if byteorder == "little" else ">"
        return struct.pack(
            f"{order}QIh?b",
            val_off & 0xFFFF_FFFF_FFFF_FFFF,
            self.kind,
            self.reg_off,
            self.signed,
            self.bitshift,
        )


def _int(text: str) -> int:
    """A decimal or ``0x`` hexadecimal integer with an optional sign."""
    digits = text.lstrip("+-")
    value = int(digits[2:], 16) if digits[:2].lower() == "0x" else int(digits)
    return -value if text.startswith("-") else value


def _register(machine: str, name: str, what: str) -> int:
    offset = _REGISTERS[machine].get(name)
    if offset is None:
        raise ParseError(f"{what}: unknown {machine} register {name!r}")
    return offset


def _parse_x86_64(text: str, size: int, signed: bool, location: str, what: str) -> UsdtArgument:
    if m := _X86_CONST.fullmatch(location):
        return UsdtArgument(text, size, signed, UsdtArgKind.CONST, value=_int(m["value"]))
    if m := _X86_REG.fullmatch(location):
        reg = m["reg"]
        return UsdtArgument(
            text, size, signed, UsdtArgKind.REG, register=reg, reg_off=_register("x86_64", reg, what)
        )
    if m := _X86_MEM.fullmatch(location):
        reg, index = m["reg"], m["index"]
        offset = _int(m["num"] or m["symoff"] or "0")
        reg_off = _register("x86_64", reg, what)
        symbol = m["sym"] or ""
        if index is None:
            return UsdtArgument(
                text,
                size,
                signed,
                UsdtArgKind.REG_DEREF,
                register=reg,
                reg_off=reg_off,
                offset=offset,
                symbol=symbol,
            )
        scale = int(m["scale"] or "1")
        if scale not in (1, 2, 4, 8):
            raise ParseError(f"{what}: scale {scale} is not 1, 2, 4 or 8")
        return UsdtArgument(
            text,
            size,
            signed,
            UsdtArgKind.SIB,
            register=reg,
            reg_off=reg_off,
            offset=offset,
            index=index,
            index_reg_off=_register("x86_64", index, what),
            scale=scale,
            symbol=symbol,
        )
    raise ParseError(f"{what}: {location!r} is not an x86_64 constant, register or memory operand")


def _parse_aarch64(text: str, size: int, signed: bool, location: str, what: str) -> UsdtArgument:
    if m := _ARM_MEM.fullmatch(location):
        reg = m["reg"]
        return UsdtArgument(
            text,
            size,
            signed,
            UsdtArgKind.REG_DEREF,
            register=reg,
            reg_off=_register("aarch64", reg, what),
            offset=_int(m["disp"] or "0"),
        )
    if m := _ARM_CONST.fullmatch(location):
        return UsdtArgument(text, size, signed, UsdtArgKind.CONST, value=_int(m["value"]))
    if m := _ARM_REG.fullmatch(location):
        reg = m["reg"]
        return UsdtArgument(
            text, size, signed, UsdtArgKind.REG, register=reg, reg_off=_register("aarch64", reg, what)
        )
    raise ParseError(f"{what}: {location!r} is not an aarch64 constant, register or memory operand")


def parse_usdt_arguments(
    spec: str, machine: str = "x86_64", *, what: str = "USDT arguments"
) -> tuple[UsdtArgument, ...]:
    """The arguments of the spec string ``spec`` (``"-4@%eax 8@-8(%rbp)"``) of a ``machine`` probe.

    An empty spec (or one starting with ``:``, as libbpf treats it) has no
    arguments. ``what`` prefixes error messages (which probe of which file).

    Raises:
        ParseError: a malformed argument, a size other than 1, 2, 4 or 8, an
            unknown register, or more than `USDT_MAX_ARGS` arguments.
        LibraryLimitError: ``machine`` is not one of ``"x86_64"``, ``"aarch64"``.
    """
    if machine not in MACHINES:
        raise LibraryLimitError(
            f"{what}: USDT arguments of {machine} binaries are not supported by this library "
            f"(only {', '.join(MACHINES)})"
        )
    if not spec.strip() or spec.startswith(":"):
        return ()
    parse = _parse_x86_64 if machine == "x86_64" else _parse_aarch64
    arguments: list[UsdtArgument] = []
    at = 0
    while spec[at:].strip():
        m = _ARGUMENT.match(spec, at)
        number = len(arguments)
        if m is None:
            raise ParseError(f"{what}: argument {number} {spec[at:].strip()!r} is not SIZE@LOCATION")
        if number >= USDT_MAX_ARGS:
            raise ParseError(f"{what}: more than {USDT_MAX_ARGS} arguments in {spec!r}")
        at = m.end()
        size = int(m["size"])
        if abs(size) not in (1, 2, 4, 8):
            raise ParseError(
                f"{what}: argument {number} {m[0].strip()!r}: size {abs(size)} is not 1, 2, 4 or 8"
            )
        arguments.append(
            parse(m[0].strip(), abs(size), size < 0, m["location"], f"{what}: argument {number}")
        )
    return tuple(arguments)


def encode_usdt_spec(
    arguments: tuple[UsdtArgument, ...] | list[UsdtArgument],
    cookie: int = 0,
    *,
    byteorder: str = sys.byteorder,
) -> bytes:
    """``arguments`` and ``cookie`` as the 208 bytes of libbpf's ``struct __bpf_usdt_spec``.

    This is the value a USDT attachment stores in the ``__bpf_usdt_specs`` map
    of an object built with ``<bpf/usdt.bpf.h>``; ``bpf_usdt_cookie()``
    returns ``cookie`` (an unsigned 64-bit value). ``byteorder`` is that of
    the machine the BPF program runs on (this one, by default).

    Raises:
        ValueError: more than `USDT_MAX_ARGS` arguments, or a cookie outside 0..2**64-1.
        LibraryLimitError: see [`UsdtArgument.encode()`][ebpf.elf.UsdtArgument.encode].
    """
    if len(arguments) > USDT_MAX_ARGS:
        raise ValueError(f"a USDT spec holds at most {USDT_MAX_ARGS} arguments, not {len(arguments)}")
    if not 0 <= cookie < 1 << 64:
        raise ValueError(f"the USDT cookie {cookie} is not an unsigned 64-bit value")
    order = "<" if byteorder == "little" else ">"
    args = b"".join(arg.encode(byteorder=byteorder) for arg in arguments)
    args += bytes(USDT_ARG_SPEC_SIZE * (USDT_MAX_ARGS - len(arguments)))
    return args + struct.pack(f"{order}Qh6x", cookie, len(arguments))
