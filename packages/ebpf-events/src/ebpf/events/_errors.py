"""The exceptions of ebpf.events, on top of the hierarchy of ``ebpf.syscall.errors``."""

from __future__ import annotations

from ebpf.syscall.errors import EbpfError

__all__ = ["ConsumerError", "EventDecodeError"]


class EventDecodeError(EbpfError, ValueError):
    """A record could not be decoded (shorter than its decoder, or the decoder raised).

    The reader has already moved past the record: reading again continues
    with the next one.

    Attributes:
        record: a copy of the record's bytes.
        decoder: a description of the decoder.
    """

    def __init__(self, message: str, record: bytes, decoder: str) -> None:
        super().__init__(message)
        self.record = record
        self.decoder = decoder


class ConsumerError(EbpfError, RuntimeError):
    """A consumer stopped because reading its sources failed (not because a handler raised).

    Raised by ``close()`` of the consumer; the original exception is the ``__cause__``.
    """
