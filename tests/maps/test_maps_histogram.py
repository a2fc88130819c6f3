"""Histograms: bounds, counts, and bcc's text byte for byte.

The expected texts are written from bcc's ``src/python/bcc/table.py``
(``_print_log2_hist``, ``_print_linear_hist``, ``_stars``, ``print_log2_hist``
with a struct key): header ``"     %-19s : count     distribution"``, rows
``"%10d -> %-10d : %-8d |%-*s|"`` with 40-star bars, the wide layout
(``"%20d -> %-20d ..."``, 20 stars) past slot 32, linear rows
``"        %-10d : %-8d |%-*s|"``, sections ``"\\n%s = %r"``.
"""

from __future__ import annotations

import ctypes
import json

import pytest

from ebpf.maps import (
    MSECS,
    NSECS,
    USECS,
    Bucket,
    Histogram,
    HistogramUnit,
    format_histograms,
    linear_histogram,
    linear_histograms,
    log2_histogram,
    log2_histograms,
)

LOG2_US = (
    "     usecs               : count     distribution\n"
    "         0 -> 1          : 1        |****                                    |\n"
    "         2 -> 3          : 3        |************                            |\n"
    "         4 -> 7          : 10       |****************************************|\n"
    "         8 -> 15         : 0        |                                        |\n"
    "        16 -> 31         : 5        |********************                    |"
)


def test_log2_text_matches_bcc() -> None:
    hist = log2_histogram([0, 1, 3, 10, 0, 5, 0, 0], unit="us")
    assert hist.format() == LOG2_US
    assert str(hist) == LOG2_US


def test_log2_buckets_and_total() -> None:
    hist = log2_histogram({1: 1, 2: 3, 3: 10, 5: 5}, unit=USECS)
    assert hist.kind == "log2"
    assert hist.unit is USECS
    assert hist.buckets == (
        Bucket(0, 1, 1),
        Bucket(2, 3, 3),
        Bucket(4, 7, 10),
        Bucket(8, 15, 0),
        Bucket(16, 31, 5),
    )
    assert hist.total == 19


def test_bars_round_as_bcc() -> None:
    # 40 * 1 / 3 = 13.33 -> 13 stars, 40 * 2 / 3 = 26.67 -> 26 stars.
    hist = log2_histogram([0, 1, 2, 3], unit="nsecs")
    assert hist.format() == (
        "     nsecs               : count     distribution\n"
        "         0 -> 1          : 1        |*************                           |\n"
        "         2 -> 3          : 2        |**************************              |\n"
        "         4 -> 7          : 3        |****************************************|"
    )


def test_leading_zeros_kept_unless_stripped() -> None:
    counts = {4: 2, 6: 1}
    assert log2_histogram(counts, unit="ms").format() == (
        "     msecs               : count     distribution\n"
        "         0 -> 1          : 0        |                                        |\n"
        "         2 -> 3          : 0        |                                        |\n"
        "         4 -> 7          : 0        |                                        |\n"
        "         8 -> 15         : 2        |****************************************|\n"
        "        16 -> 31         : 0        |                                        |\n"
        "        32 -> 63         : 1        |********************                    |"
    )
    assert log2_histogram(counts, unit="ms").format(strip_leading_zero=True) == (
        "     msecs               : count     distribution\n"
        "         8 -> 15         : 2        |****************************************|\n"
        "        16 -> 31         : 0        |                                        |\n"
        "        32 -> 63         : 1        |********************                    |"
    )


def test_wide_layout_past_slot_32() -> None:
    hist = log2_histogram({32: 1, 33: 2})
    text = hist.format(strip_leading_zero=True)
    assert text == (
        "               value                         : count     distribution\n"
        "          2147483648 -> 4294967295           : 1        |**********          |\n"
        "          4294967296 -> 8589934591           : 2        |********************|"
    )
    # Slot 32 alone still fits the narrow layout (bcc: idx_max <= 32).
    assert log2_histogram({32: 1}).format(strip_leading_zero=True) == (
        "     value               : count     distribution\n"
        "2147483648 -> 4294967295 : 1        |****************************************|"
    )


def test_empty_histogram_prints_nothing() -> None:
    assert log2_histogram([0] * 65).buckets == ()
    assert log2_histogram({}).format() == ""
    assert linear_histogram([0, 0]).format() == ""
    assert log2_histogram({}).total == 0


def test_libbpf_layout_is_one_slot_lower() -> None:
    assert log2_histogram([1, 3, 10, 0, 5], unit="us", layout="libbpf").format() == LOG2_US


def test_bcc_slot_zero_counts_with_zero_to_one() -> None:
    assert log2_histogram({0: 2, 1: 1}).buckets == (Bucket(0, 1, 3),)


def test_per_cpu_counts_are_summed() -> None:
    hist = log2_histogram({1: [1, 0], 2: [1, 2], 3: [4, 6]}, unit="us")
    assert [b.count for b in hist.buckets] == [1, 3, 10]


def test_linear_text_matches_bcc() -> None:
    hist = linear_histogram([0, 2, 0, 8, 1], unit="kbytes")
    assert hist.format() == (
        "     kbytes        : count     distribution\n"
        "        0          : 0        |                                        |\n"
        "        1          : 2        |**********                              |\n"
        "        2          : 0        |                                        |\n"
        "        3          : 8        |****************************************|\n"
        "        4          : 1        |*****                                   |"
    )


def test_linear_step_and_start() -> None:
    hist = linear_histogram({0: 1, 2: 4}, start=100, step=10, unit="ms")
    assert hist.buckets == (Bucket(100, 109, 1), Bucket(110, 119, 0), Bucket(120, 129, 4))
    assert (
        hist.format().splitlines()[1]
        == "        100        : 1        |**********                              |"
    )


def test_to_dict_is_json() -> None:
    hist = log2_histogram([0, 1, 2], unit="ns")
    assert json.loads(json.dumps(hist.to_dict())) == {
        "kind": "log2",
        "unit": "ns",
        "total": 3,
        "buckets": [{"low": 0, "high": 1, "count": 1}, {"low": 2, "high": 3, "count": 2}],
    }


def test_units() -> None:
    assert HistogramUnit.parse("us") is USECS
    assert HistogramUnit.parse("nsecs") is NSECS
    assert HistogramUnit.parse(MSECS) is MSECS
    assert (USECS.symbol, USECS.label, USECS.seconds) == ("us", "usecs", 1e-6)
    assert HistogramUnit.parse("bytes") == HistogramUnit("bytes", "bytes", None)
    with pytest.raises(ValueError, match="needs a name"):
        HistogramUnit.parse("")


def test_bad_slots_and_counts() -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.64"):
        log2_histogram({65: 1})
    with pytest.raises(ValueError, match=r"outside 0\.\.63"):
        log2_histogram({64: 1}, layout="libbpf")
    with pytest.raises(ValueError, match=r"outside 0\.\.1024"):
        linear_histogram({1025: 1})
    with pytest.raises(TypeError, match="integer key codec"):
        log2_histogram({b"\x01\x00\x00\x00": 1})
    with pytest.raises(TypeError, match="integer value codec"):
        log2_histogram({1: b"\x01"})
    with pytest.raises(ValueError, match="step"):
        linear_histogram([1], step=0)
    with pytest.raises(ValueError, match="layout"):
        log2_histogram([1], layout="other")  # type: ignore[arg-type]


class _DiskKey(ctypes.Structure):
    _fields_ = (("disk", ctypes.c_char * 8), ("slot", ctypes.c_uint64))


def test_per_key_ctypes_keys_and_sections_text() -> None:
    # ctypes structures are not hashable: (key, count) pairs, as a map's items() gives.
    counts = [(_DiskKey(b"sda", 2), 4), (_DiskKey(b"sdb", 1), 1), (_DiskKey(b"sda", 3), 2)]
    hists = log2_histograms(counts, unit="usecs")
    assert list(hists) == [b"sda", b"sdb"]
    assert hists[b"sda"].buckets == (Bucket(0, 1, 0), Bucket(2, 3, 4), Bucket(4, 7, 2))
    assert format_histograms(hists, section_header="disk") == (
        "\n"
        "disk = b'sda'\n"
        "     usecs               : count     distribution\n"
        "         0 -> 1          : 0        |                                        |\n"
        "         2 -> 3          : 4        |****************************************|\n"
        "         4 -> 7          : 2        |********************                    |\n"
        "\n"
        "disk = b'sdb'\n"
        "     usecs               : count     distribution\n"
        "         0 -> 1          : 1        |****************************************|"
    )
    assert format_histograms(hists, section_header="disk", section_format=bytes.decode).splitlines()[1] == (
        "disk = sda"
    )


def test_per_key_tuples_dicts_and_split() -> None:
    pairs = [((7, "cat", 1), 1), ((7, "cat", 2), 2), ((8, "sh", 1), 5)]
    hists = log2_histograms(pairs)
    assert set(hists) == {(7, "cat"), (8, "sh")}
    assert hists[(7, "cat")].total == 3
    by_dict = linear_histograms([({"pid": 1, "slot": 0}, 3), ({"pid": 1, "slot": 2}, 1)])
    assert by_dict[1].buckets == (Bucket(0, 0, 3), Bucket(1, 1, 0), Bucket(2, 2, 1))
    custom = log2_histograms({(1 << 32) | 3: 9}, split=lambda key: (key >> 32, key & 0xFFFF_FFFF))
    assert custom[1].buckets[-1] == Bucket(4, 7, 9)
    with pytest.raises(TypeError, match="split="):
        log2_histograms({5: 1})


def test_histogram_is_frozen() -> None:
    hist = Histogram("log2", (Bucket(0, 1, 1),), USECS)
    with pytest.raises(AttributeError):
        hist.unit = NSECS  # type: ignore[misc]
