"""Fuzz target: verifier logs and the errors that render them.

A verifier log is kernel output the library parses: ``VerifierError`` picks
the cause and the tail for ``str()``, and ``ebpf.progs.ProgramVerifierError``
finds the failing instruction in it and resolves that instruction's source
line through the program's BTF line info (both also untrusted: they come
from an object file). The input is laid out as::

    u8 rec_size selector | u8 flags | u16 log length | u16 BTF length | log | BTF | line info

Rendering (``str``), pickling (errors cross process boundaries) and the
``failing_instruction``/``source_line`` lookups must not raise at all.
"""

from __future__ import annotations

import pickle
import struct

from ebpf.progs import ProgramVerifierError
from ebpf.syscall import VerifierError
from fuzz import _seeds

NAME = "verifier_log"
ALLOWED: tuple[type[BaseException], ...] = ()

_HEADER = struct.Struct("<BBHH")
_REC_SIZES = (16, 20, 24, 32)
_ERRNOS = (13, 22, 28, 7, 1, 4095)


def one_input(data: bytes) -> None:
    """Render the errors built from the log, BTF and line info packed in ``data``."""
    if len(data) < _HEADER.size:
        return
    selector, flags, log_len, btf_len = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    log = body[:log_len].decode("utf-8", "replace").splitlines()
    btf = body[log_len : log_len + btf_len]
    rec_size = _REC_SIZES[selector % len(_REC_SIZES)]
    line_info = body[log_len + btf_len :]
    line_info = line_info[: len(line_info) - len(line_info) % rec_size]
    err = VerifierError(_ERRNOS[flags % len(_ERRNOS)], "BPF_PROG_LOAD", "fuzz", log, bool(flags & 0x80))
    str(err)
    wrapped = ProgramVerifierError.from_error(err, btf if flags & 0x40 else None, line_info, rec_size)
    text = str(wrapped)
    copy = pickle.loads(pickle.dumps(wrapped))
    if str(copy) != text or copy.log != wrapped.log:
        raise AssertionError("a pickled ProgramVerifierError renders differently")


def _line_info(ext: bytes) -> bytes:
    """The raw line-info records of the first section of a ``.BTF.ext`` (16 bytes each)."""
    line_off, line_len = struct.unpack_from("<II", ext, 16)
    hdr_len = struct.unpack_from("<I", ext, 4)[0]
    block = ext[hdr_len + line_off : hdr_len + line_off + line_len]
    if len(block) < 12:
        return b""
    rec_size, _sec, count = struct.unpack_from("<III", block)
    return block[12 : 12 + rec_size * count] if rec_size == 16 else b""


def pack(log: str, btf: bytes, line_info: bytes, selector: int = 0, flags: int = 0x40) -> bytes:
    """An input of this target."""
    raw = log.encode()[:0xFFFF]
    return _HEADER.pack(selector, flags, len(raw), len(btf[:0xFFFF])) + raw + btf[:0xFFFF] + line_info


def seeds() -> list[bytes]:
    """Real logs, each with a test object's BTF and line info."""
    pairs = _seeds.btf_ext_pairs() or ()
    logs = _seeds.verifier_logs()
    out = []
    for index, log in enumerate(logs):
        if pairs:
            graph, ext = pairs[index % len(pairs)]
            out.append(pack(log, graph.data, _line_info(ext)))
        out.append(pack(log, b"", b"", flags=0))
    return out
