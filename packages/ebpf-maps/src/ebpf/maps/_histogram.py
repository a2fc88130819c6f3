"""Histograms read from maps: log2 and linear, whole or per key, as data and as bcc's text.

A BPF program counts values into slots (``slot = log2(value)`` or
``slot = value / step``) of an array map (index = slot), of a hash map keyed
by slot, or of a hash map whose key is a struct ``(key fields..., slot)``
(one histogram per process, per disk...: bcc's ``hist_key_t``). The functions
here turn the counts into a [`Histogram`][ebpf.maps.Histogram]: buckets with
bounds and counts, for JSON and plotting, and the text bcc's
``print_log2_hist``/``print_linear_hist`` print, byte for byte.

Log2 slots follow bcc's ``bpf_log2l()``: slot ``i >= 1`` counts values from
``2**(i-1)`` to ``2**i - 1``, slot 1 also counts 0 ("0 -> 1"), slot 0 is never
filled. libbpf-tools count one slot lower (slot ``i`` from ``2**i`` to
``2**(i+1) - 1``, slot 0 for 0 and 1): say ``layout="libbpf"`` for those.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "MSECS",
    "NSECS",
    "USECS",
    "Bucket",
    "Histogram",
    "HistogramUnit",
    "format_histograms",
    "linear_histogram",
    "linear_histograms",
    "log2_histogram",
    "log2_histograms",
]

#: bcc's bar width (``stars_max``): a wide log2 histogram gets half of it.
_STARS = 40
#: Slots of a log2 histogram: ``bpf_log2l()`` of a u64 is at most 64.
_LOG2_SLOTS = 65
#: The default bound on linear slots, bcc's ``linear_index_max``.
_LINEAR_SLOTS = 1025

Layout = Literal["bcc", "libbpf"]
Kind = Literal["log2", "linear"]


@dataclass(frozen=True)
class HistogramUnit:
    """What the counted values measure: a short symbol, the label bcc prints, seconds per unit.

    ``seconds`` is ``None`` for units that are not times (bytes, a plain value).
    """

    symbol: str
    label: str
    seconds: float | None = None

    @classmethod
    def parse(cls, unit: HistogramUnit | str) -> HistogramUnit:
        """The unit named ``unit``: ``ns``/``us``/``ms`` (or ``nsecs``/``usecs``/``msecs``)
        give the time units, any other text a unit with that label and no duration.

        Raises:
            ValueError: ``unit`` is an empty string.
            TypeError: ``unit`` is neither a `HistogramUnit` nor a string.
        """
        if isinstance(unit, HistogramUnit):
            return unit
        if not isinstance(unit, str):
            raise TypeError(f"a histogram unit is a HistogramUnit or a str, not {type(unit).__name__}")
        if not unit:
            raise ValueError("a histogram unit needs a name (ns, us, ms, or a label such as 'bytes')")
        for known in (NSECS, USECS, MSECS):
            if unit in (known.symbol, known.label):
                return known
        return cls(unit, unit)


NSECS = HistogramUnit("ns", "nsecs", 1e-9)
USECS = HistogramUnit("us", "usecs", 1e-6)
MSECS = HistogramUnit("ms", "msecs", 1e-3)
#: bcc's default column header (``val_type="value"``).
_VALUE = HistogramUnit("value", "value")


@dataclass(frozen=True)
class Bucket:
    """One bucket: the values from ``low`` to ``high`` (both included) were seen ``count`` times."""

    low: int
    high: int
    count: int


@dataclass(frozen=True)
class Histogram:
    """A log2 or linear histogram: buckets from the first slot to the last non-empty one.

    Leading empty buckets are kept (bcc prints them unless asked not to),
    trailing ones are not; an empty histogram has no buckets. ``str(h)`` and
    [`format()`][ebpf.maps.Histogram.format] give bcc's text.
    """

    kind: Kind
    buckets: tuple[Bucket, ...]
    unit: HistogramUnit = _VALUE

    @property
    def total(self) -> int:
        """The sum of the counts."""
        return sum(bucket.count for bucket in self.buckets)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``kind``, ``unit`` (symbol), ``total``, ``buckets`` (``low, high, count``)."""
        return {
            "kind": self.kind,
            "unit": self.unit.symbol,
            "total": self.total,
            "buckets": [dataclasses.asdict(bucket) for bucket in self.buckets],
        }

    def format(self, *, strip_leading_zero: bool = False) -> str:
        """The lines bcc's ``print_log2_hist``/``print_linear_hist`` print, without the last newline.

        The column header is the unit's label (bcc's ``val_type``); a log2
        histogram whose last bucket ends above 2**32 - 1 gets bcc's wide
        layout (20-digit bounds, 20-star bars). ``strip_leading_zero`` drops
        the empty buckets before the first non-empty one (log2 only, as in bcc).
        An empty histogram is the empty string (bcc prints nothing).
        """
        if not self.buckets:
            return ""
        peak = max(bucket.count for bucket in self.buckets)
        if self.kind == "linear":
            lines = [f"     {self.unit.label:<13} : count     distribution"]
            lines += [
                f"        {b.low:<10d} : {b.count:<8d} |{_stars(b.count, peak, _STARS):<{_STARS}}|"
                for b in self.buckets
            ]
            return "\n".join(lines)
        if self.buckets[-1].high <= 0xFFFF_FFFF:
            lines = [f"     {self.unit.label:<19} : count     distribution"]
            bounds, stars = 10, _STARS
        else:
            lines = [f"               {self.unit.label:<29} : count     distribution"]
            bounds, stars = 20, _STARS // 2
        leading = strip_leading_zero
        for b in self.buckets:
            if leading and not b.count:
                continue
            leading = False
            bar = _stars(b.count, peak, stars)
            lines.append(f"{b.low:>{bounds}d} -> {b.high:<{bounds}d} : {b.count:<8d} |{bar:<{stars}}|")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def _stars(count: int, peak: int, width: int) -> str:
    """bcc's ``_stars``: a bar of ``width * count / peak`` stars, computed in floats as bcc does."""
    # Kept as bcc's loop (float comparison included) so that the bar lengths
    # agree with bcc's for every count, rounding cases too.
    n = 0
    while not (n > width * count / peak - 1 or n > width - 1):
        n += 1
    return "*" * n


# ------------------------------------------------------------ reading counts


def _count(value: Any) -> int:
    """A slot's count: an int, or per-CPU values (a list of ints), summed.

    Raises:
        TypeError: ``value`` is neither.
    """
    if isinstance(value, int):
        return value
    if (
        isinstance(value, Sequence)
        and not isinstance(value, (bytes, bytearray, str))
        and all(isinstance(v, int) for v in value)
    ):
        return sum(value)
    raise TypeError(
        f"a histogram count is an int or per-CPU ints, not {type(value).__name__} "
        "(open the map with an integer value codec such as u64)"
    )


def _slot_counts(counts: Mapping[Any, Any] | Iterable[Any]) -> Iterable[tuple[Any, Any]]:
    """``(slot, value)`` pairs of a mapping (a map object, a dict) or of a sequence (index = slot)."""
    if isinstance(counts, Mapping):
        return counts.items()
    return enumerate(counts)


def _as_slot(slot: Any, limit: int) -> int:
    """``slot`` as an int below ``limit``.

    Raises:
        TypeError: ``slot`` is not an int.
        ValueError: it is negative or not below ``limit``.
    """
    if not isinstance(slot, int):
        raise TypeError(
            f"a histogram slot is an int, not {type(slot).__name__} (give the map an integer key codec)"
        )
    if not 0 <= slot < limit:
        raise ValueError(f"histogram slot {slot} is outside 0..{limit - 1}")
    return slot


def _log2_bucket(slot: int) -> tuple[int, int]:
    """The bounds bcc prints for log2 slot ``slot >= 1``."""
    low, high = (1 << slot) >> 1, (1 << slot) - 1
    return (low - 1 if low == high else low), high


def _log2_from_slots(slots: Mapping[int, int], unit: HistogramUnit, layout: Layout) -> Histogram:
    if layout not in ("bcc", "libbpf"):
        raise ValueError(f"log2 layout {layout!r}: use 'bcc' or 'libbpf'")
    shift = 1 if layout == "libbpf" else 0
    counts = [0] * (_LOG2_SLOTS + 1)
    for slot, count in slots.items():
        counts[slot + shift] += count
    # bcc's slot 0 is never filled by bpf_log2l(); a count there (value 0
    # counted apart) goes with 0 -> 1 rather than vanish.
    counts[1] += counts[0]
    last = max((i for i in range(1, len(counts)) if counts[i]), default=0)
    buckets = tuple(Bucket(*_log2_bucket(i), counts[i]) for i in range(1, last + 1))
    return Histogram("log2", buckets, unit)


def _linear_from_slots(slots: Mapping[int, int], unit: HistogramUnit, start: int, step: int) -> Histogram:
    if step < 1:
        raise ValueError(f"a linear histogram's step is at least 1, not {step}")
    last = max((slot for slot, count in slots.items() if count), default=-1)
    buckets = tuple(
        Bucket(start + i * step, start + (i + 1) * step - 1, slots.get(i, 0)) for i in range(last + 1)
    )
    return Histogram("linear", buckets, unit)


def _collect(counts: Mapping[Any, Any] | Iterable[Any], limit: int) -> dict[int, int]:
    slots: dict[int, int] = {}
    for slot, value in _slot_counts(counts):
        index = _as_slot(slot, limit)
        slots[index] = slots.get(index, 0) + _count(value)
    return slots


def log2_histogram(
    counts: Mapping[Any, Any] | Iterable[Any],
    *,
    unit: HistogramUnit | str = _VALUE,
    layout: Layout = "bcc",
) -> Histogram:
    """The log2 histogram of ``counts``: a map (array, or hash keyed by slot), a dict or a list.

    A list's index is the slot.

    Counts are ints or per-CPU lists of ints (summed). ``layout`` says how
    the program numbered the slots (module docs): ``"bcc"`` (``bpf_log2l``,
    slot 1 = 0 -> 1) or ``"libbpf"`` (slot 0 = 0 -> 1).

    Raises:
        TypeError: a slot or a count is not an int (the map needs integer codecs).
        ValueError: a slot is out of 0..64 (0..63 for ``"libbpf"``), or a bad ``layout`` or ``unit``.
    """
    limit = _LOG2_SLOTS - (1 if layout == "libbpf" else 0)
    return _log2_from_slots(_collect(counts, limit), HistogramUnit.parse(unit), layout)


def linear_histogram(
    counts: Mapping[Any, Any] | Iterable[Any],
    *,
    unit: HistogramUnit | str = _VALUE,
    start: int = 0,
    step: int = 1,
    max_slots: int = _LINEAR_SLOTS,
) -> Histogram:
    """The linear histogram of ``counts`` (as for [`log2_histogram`][ebpf.maps.log2_histogram]):
    slot ``i`` counts the values from ``start + i*step`` to ``start + (i+1)*step - 1``.

    bcc's text shows each bucket's ``low`` (the slot number with the defaults).

    Raises:
        TypeError: a slot or a count is not an int.
        ValueError: a slot is negative or not below ``max_slots``, ``step`` < 1, or a bad ``unit``.
    """
    return _linear_from_slots(_collect(counts, max_slots), HistogramUnit.parse(unit), start, step)


# ------------------------------------------------------------- per key


KeySplit = Callable[[Any], tuple[Hashable, int]]


def _split_key(key: Any) -> tuple[Hashable, int]:
    """``(section, slot)`` of a struct key whose last field is the slot.

    Tuples (``struct`` codecs), dicts (BTF codecs), and ``ctypes``
    structures (fields named ``__pad...`` skipped) are understood; the
    section is the other field, or a tuple of them when there are several.

    Raises:
        TypeError: another kind of key (give ``split=``).
    """
    fields: list[Any]
    if isinstance(key, Mapping):
        fields = list(key.values())
    elif isinstance(key, tuple):
        fields = list(key)
    elif hasattr(key, "_fields_"):
        fields = [getattr(key, f[0]) for f in key._fields_ if not f[0].startswith("__pad")]
    else:
        raise TypeError(
            f"a per-key histogram needs struct keys (tuple, dict or ctypes) ending with the slot, "
            f"not {type(key).__name__}: give split=lambda key: (section, slot)"
        )
    if len(fields) < 2:
        raise TypeError(
            f"a per-key histogram key has a section and a slot: {key!r} has {len(fields)} field(s)"
        )
    section = fields[0] if len(fields) == 2 else tuple(fields[:-1])
    if isinstance(section, list):
        section = tuple(section)
    return section, fields[-1]


def _per_key(
    counts: Mapping[Any, Any] | Iterable[tuple[Any, Any]], split: KeySplit | None, limit: int
) -> dict[Hashable, dict[int, int]]:
    pairs = counts.items() if isinstance(counts, Mapping) else counts
    sections: dict[Hashable, dict[int, int]] = {}
    for key, value in pairs:
        section, slot = (split or _split_key)(key)
        index = _as_slot(slot, limit)
        slots = sections.setdefault(section, {})
        slots[index] = slots.get(index, 0) + _count(value)
    return sections


def log2_histograms(
    counts: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
    *,
    unit: HistogramUnit | str = _VALUE,
    layout: Layout = "bcc",
    split: KeySplit | None = None,
) -> dict[Hashable, Histogram]:
    """One log2 histogram per section of a map keyed by ``(key fields..., slot)`` (bcc's ``hist_key_t``).

    ``counts`` is a map, a dict or ``(key, count)`` pairs. ``split(key)``
    returns ``(section, slot)``; by default the slot is the key's last
    field and the section the others (one field: itself; several: a tuple).
    Sections come in the order the map yields them.

    Raises:
        TypeError: a key ``split`` cannot read, or a count that is not an int.
        ValueError: as for [`log2_histogram`][ebpf.maps.log2_histogram].
    """
    kind_unit = HistogramUnit.parse(unit)
    limit = _LOG2_SLOTS - (1 if layout == "libbpf" else 0)
    return {
        section: _log2_from_slots(slots, kind_unit, layout)
        for section, slots in _per_key(counts, split, limit).items()
    }


def linear_histograms(
    counts: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
    *,
    unit: HistogramUnit | str = _VALUE,
    start: int = 0,
    step: int = 1,
    max_slots: int = _LINEAR_SLOTS,
    split: KeySplit | None = None,
) -> dict[Hashable, Histogram]:
    """One linear histogram per section, as [`log2_histograms`][ebpf.maps.log2_histograms] does for log2.

    Raises:
        TypeError: a key ``split`` cannot read, or a count that is not an int.
        ValueError: as for [`linear_histogram`][ebpf.maps.linear_histogram].
    """
    kind_unit = HistogramUnit.parse(unit)
    return {
        section: _linear_from_slots(slots, kind_unit, start, step)
        for section, slots in _per_key(counts, split, max_slots).items()
    }


def format_histograms(
    histograms: Mapping[Any, Histogram],
    *,
    section_header: str = "Bucket ptr",
    section_format: Callable[[Any], str] = repr,
    strip_leading_zero: bool = False,
) -> str:
    """bcc's text of per-key histograms: per section an empty line, ``<header> = <section>``, its histogram.

    ``section_format`` is bcc's ``section_print_fn`` (default ``repr``, as
    bcc's ``%r``). Sections are printed in the mapping's order (sort it
    first for a stable report). No last newline, as
    [`Histogram.format()`][ebpf.maps.Histogram.format].
    """
    lines: list[str] = []
    for section, histogram in histograms.items():
        lines += ["", f"{section_header} = {section_format(section)}"]
        text = histogram.format(strip_leading_zero=strip_leading_zero)
        if text:
            lines.append(text)
    return "\n".join(lines)
