"""Properties of the code that renders and parses kernel text and names (verifier logs, section names).

The verifier log is the kernel's output; ``VerifierError.__str__`` must name
the cause (the last line that is not a statistic), show at most ``TAIL``
lines and count exactly the ones it left out, for any log at all. Section
names come from object files: ``parse_section`` takes any string and
answers with a ``Section`` or a ``ValueError``.
"""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from ebpf.asm import decode, encode
from ebpf.progs import ProgramVerifierError, parse_section
from ebpf.syscall import VerifierError

_LINE = st.text(
    st.characters(
        blacklist_categories=["Cs"], blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    ),
    max_size=60,
)
_STAT = st.sampled_from(["processed 12 insns (limit 1000000)", "verification time 35 usec", ""])


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(_LINE | _STAT, max_size=40), st.booleans())
def test_verifier_error_names_the_cause_and_counts_omitted_lines(log: list[str], truncated: bool) -> None:
    err = VerifierError(13, "BPF_PROG_LOAD", "loading x", log, truncated)
    text = str(err)
    body = [line for line in log if line.strip() and not line.startswith(("processed ", "verification time"))]
    if not body:
        assert text.endswith("rejected by the verifier (EACCES)")
        return
    first = text.splitlines()[0]
    assert first.endswith(body[-1]), "the first line must end with the cause"
    omitted = len(body) - VerifierError.TAIL
    if omitted > 0:
        plural = "s" if omitted != 1 else ""
        assert f"({omitted} earlier line{plural} omitted)" in text
    else:
        assert "omitted)" not in text.splitlines()[1:2] or omitted <= 0
    assert text.count("\n  ") >= min(len(body), VerifierError.TAIL)
    assert ("(log truncated by the kernel)" in text) == truncated
    assert str(pickle.loads(pickle.dumps(err))) == text


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(_LINE, max_size=20), st.integers(0, 3000))
def test_failing_instruction_is_the_last_printed_one(noise: list[str], index: int) -> None:
    log = [*noise, f"{index}: (b7) r0 = 0", "R0 !read_ok", *[n for n in noise if not n[:1].isdigit()]]
    wrapped = ProgramVerifierError.from_error(VerifierError(13, "BPF_PROG_LOAD", "", log), None, b"", 16)
    assert wrapped.instruction == index
    assert f"failing instruction: {index}" in str(wrapped)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=80))
def test_section_names_parse_or_raise_value_error(name: str) -> None:
    try:
        section = parse_section(name)
    except ValueError:
        return
    assert section.prog_type is not None


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=256).map(lambda b: b[: len(b) - len(b) % 8]))
def test_instruction_streams_decode_back_to_themselves_or_raise_value_error(raw: bytes) -> None:
    try:
        insns = decode(raw)
    except ValueError:
        return
    assert encode(insns) == raw
