"""The arithmetic programs of the catalogue: computations on operands at the start of an XDP packet."""

from __future__ import annotations

from ebpf.asm import (
    R0,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8,
    Item,
    W,
    add,
    exit_,
    ja,
    jeq,
    jge,
    jgt,
    label,
    load,
    mod,
    mov,
)

from ._example import Example
from ._fragments import (
    _XDP_CTX,
    _packet,
)


def _operands(count: int) -> list[Item]:
    """r4 (and r5) = little-endian u32 operands at the start of an XDP packet; return 0 if too short."""
    items: list[Item] = [*_packet(_XDP_CTX), mov(R0, 0), mov(R8, R2), add(R8, 4 * count), jgt(R8, R3, "out")]
    items.append(load(R4, R2, 0, W))
    if count == 2:
        items.append(load(R5, R2, 4, W))
    return items


def _arith_gcd() -> list[Item]:
    loop: list[Item] = []
    for _ in range(48):  # enough steps for any pair of u32 (Fibonacci worst case)
        loop += [jeq(R5, 0, "done"), mov(R6, R4), mod(R6, R5), mov(R4, R5), mov(R5, R6)]
    return [*_operands(2), *loop, label("done"), mov(R0, R4), label("out"), exit_()]


def _arith_sum() -> list[Item]:
    return [
        *_operands(1),
        jgt(R4, 1000, "out"),  # n is capped so the verifier sees a bounded loop
        mov(R5, 1),
        label("loop"),
        jgt(R5, R4, "out"),
        add(R0, R5),
        add(R5, 1),
        ja("loop"),
        label("out"),
        exit_(),
    ]


def _arith_fib() -> list[Item]:
    # The loop counts i up to n rather than n down to 0. The verifier proves
    # that a loop ends by following it with each register's bounds; only
    # since 6.8 ("bpf: make the verifier trace the 'not equal' for regs")
    # does the fall-through of "n == 0" raise n's lower bound to 1, so before
    # that n -= 1 wraps below 0 and the verifier never sees the loop end (6.1
    # gives up with EFAULT: "The sequence of 8193 jumps is too complex").
    # "i < n" with i a known constant raises n's lower bound on every kernel,
    # until n is known and the comparison is decided.
    return [
        *_operands(1),
        jgt(R4, 47, "out"),  # fib(47) is the last that fits in 32 bits
        mov(R5, 1),  # fib(i + 1); r0 = fib(i)
        mov(R7, 0),  # i
        label("loop"),
        jge(R7, R4, "out"),
        mov(R6, R0),
        add(R6, R5),
        mov(R0, R5),
        mov(R5, R6),
        add(R7, 1),
        ja("loop"),
        label("out"),
        exit_(),
    ]


#: Arithmetic programs, in catalogue order.
ARITHMETIC: list[Example] = [
    Example(
        "arith_gcd",
        "xdp",
        "Arithmetic: greatest common divisor of two u32 (unrolled Euclid)",
        "for a packet starting with little-endian u32 a and b, returns gcd(a, b)",
        _arith_gcd,
    ),
    Example(
        "arith_sum",
        "xdp",
        "Arithmetic: 1 + 2 + ... + n with a bounded loop (n <= 1000)",
        "for a packet starting with little-endian u32 n <= 1000, returns n(n+1)/2; 0 for larger n",
        _arith_sum,
    ),
    Example(
        "arith_fib",
        "xdp",
        "Arithmetic: the n-th Fibonacci number with a bounded loop (n <= 47)",
        "for a packet starting with little-endian u32 n <= 47, returns fib(n); 0 for larger n",
        _arith_fib,
    ),
]
