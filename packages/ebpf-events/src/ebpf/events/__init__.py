"""ebpf.events: ring buffers and perf buffers read at full speed, from threads and asyncio.

Readers map the kernel's buffers and wait with epoll:

- [`RingBuffer`][ebpf.events.RingBuffer] reads a ``BPF_MAP_TYPE_RINGBUF`` map,
  [`PerfBuffer`][ebpf.events.PerfBuffer] a ``BPF_MAP_TYPE_PERF_EVENT_ARRAY`` (one perf ring per
  CPU), [`UserRingBuffer`][ebpf.events.UserRingBuffer] writes a ``BPF_MAP_TYPE_USER_RINGBUF``.
- Each reader: ``poll(timeout)``, ``read()``, ``drain()``, a blocking
  iterator, ``async for``, batch reads (``read_batch()`` into tuples,
  ``read_array()`` into a NumPy structured array when NumPy is installed).
- [`Poller`][ebpf.events.Poller] waits on several readers; [`Consumer`][ebpf.events.Consumer] (a thread) and
  [`AsyncConsumer`][ebpf.events.AsyncConsumer] (a task) run parser -> filter -> transform ->
  handler pipelines with live [`Stats`][ebpf.events.Stats].
- [`as_decoder()`][ebpf.events.as_decoder] turns ``[u32, u64, "char[16]"]``, ``struct`` formats,
  ``ctypes`` structures, ``ebpf.maps`` codecs, or anything with ``size`` and
  ``decode`` into an [`EventDecoder`][ebpf.events.EventDecoder].
- [`TracePipe`][ebpf.events.TracePipe] reads what ``bpf_trace_printk()`` prints, from tracefs
  ``trace_pipe``, as [`TraceLine`][ebpf.events.TraceLine] s (iterator, ``poll()``, ``async for``).

Lifecycle: a reader owns a duplicate of the map's descriptor, its mappings,
an epoll descriptor and (perf buffers) one perf event per CPU; ``close()``,
a ``with`` block or garbage collection releases them all. Records handed out
as ``memoryview`` s (readers without a decoder) are valid until the next
read. Importing this package makes no system call.
"""

from typing import TYPE_CHECKING, Any

from ebpf.syscall._lazy import import_public

if TYPE_CHECKING:
    from ._async_consumer import AsyncConsumer
    from ._consumer import Consumer
    from ._decoders import Decoder, DecoderSpec, EventDecoder, as_decoder
    from ._errors import ConsumerError, EventDecodeError
    from ._fields import cstring
    from ._perfbuf import PERF_RECORD_LOST, PERF_RECORD_SAMPLE, PerfBuffer
    from ._poller import Poller
    from ._ringbuf import RINGBUF_BUSY_BIT, RINGBUF_DISCARD_BIT, RINGBUF_HEADER_SIZE, RingBuffer
    from ._source import EventSource
    from ._stats import Stats
    from ._trace_line import BPF_TRACE_PRINTK, TraceLine, parse_lost_events, parse_trace_line
    from ._trace_pipe import TracePipe
    from ._userringbuf import UserRingBuffer

# The public names are imported from their modules on first use (PEP 562), as in ebpf.btf: a
# reader of one ring buffer needs neither asyncio (the async consumer) nor the perf buffer.
_HOMES = {
    "AsyncConsumer": "._async_consumer",
    "BPF_TRACE_PRINTK": "._trace_line",
    "Consumer": "._consumer",
    "ConsumerError": "._errors",
    "Decoder": "._decoders",
    "DecoderSpec": "._decoders",
    "EventDecodeError": "._errors",
    "EventDecoder": "._decoders",
    "EventSource": "._source",
    "PERF_RECORD_LOST": "._perfbuf",
    "PERF_RECORD_SAMPLE": "._perfbuf",
    "PerfBuffer": "._perfbuf",
    "Poller": "._poller",
    "RINGBUF_BUSY_BIT": "._ringbuf",
    "RINGBUF_DISCARD_BIT": "._ringbuf",
    "RINGBUF_HEADER_SIZE": "._ringbuf",
    "RingBuffer": "._ringbuf",
    "Stats": "._stats",
    "TraceLine": "._trace_line",
    "TracePipe": "._trace_pipe",
    "UserRingBuffer": "._userringbuf",
    "as_decoder": "._decoders",
    "cstring": "._fields",
    "parse_lost_events": "._trace_line",
    "parse_trace_line": "._trace_line",
}


def __getattr__(name: str) -> Any:
    """A public name of this package, imported from its module on first use.

    Raises:
        AttributeError: ``name`` is not one of ``__all__``.
    """
    return import_public(__name__, _HOMES, globals(), name)


__all__ = [
    "BPF_TRACE_PRINTK",
    "PERF_RECORD_LOST",
    "PERF_RECORD_SAMPLE",
    "RINGBUF_BUSY_BIT",
    "RINGBUF_DISCARD_BIT",
    "RINGBUF_HEADER_SIZE",
    "AsyncConsumer",
    "Consumer",
    "ConsumerError",
    "Decoder",
    "DecoderSpec",
    "EventDecodeError",
    "EventDecoder",
    "EventSource",
    "PerfBuffer",
    "Poller",
    "RingBuffer",
    "Stats",
    "TraceLine",
    "TracePipe",
    "UserRingBuffer",
    "__version__",
    "as_decoder",
    "cstring",
    "parse_lost_events",
    "parse_trace_line",
]


#: The version of ``ebpf-events``, which hatch reads from here (every ebpf distribution has the same).
__version__ = "0.1.0"
