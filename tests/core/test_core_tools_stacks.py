"""profile and offcputime without a kernel: options, parsers, stacks read from maps, their output."""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterable
from typing import Any, cast

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ebpf.core.prometheus import registry
from ebpf.core.tools import StackCount, StackReport, StackSides, get_tool, offcputime, profile
from ebpf.core.tools._export import CumulativeCounts
from ebpf.core.tools._stacks import folded_stack, format_stacks, read_stacks, stack_id_error
from ebpf.elf import Frame, Symbolizer
from ebpf.maps import StackTraceMap
from ebpf.syscall import KeyNotFoundError

KALLSYMS = [
    "ffffffff81000000 T schedule",
    "ffffffff81000100 T do_nanosleep",
    "ffffffff81000200 T entry_SYSCALL_64",
    "ffffffff81000300 T _etext",
]

#: Stack id -> addresses, innermost first (kernel ones in KALLSYMS, user ones in USER_NAMES).
STACKS = {
    1: [0xFFFFFFFF81000010, 0xFFFFFFFF81000110, 0xFFFFFFFF81000210],
    2: [0x1000, 0x2000],
}
USER_NAMES = {0x1000: "spin", 0x2000: "main"}


class _Stacks:
    """A stack trace map: ``stack(id)``, KeyNotFoundError for an id it does not hold."""

    def stack(self, stack_id: int) -> list[int]:
        if stack_id not in STACKS:
            raise KeyNotFoundError(errno.ENOENT, "lookup", "reading a stack")
        return STACKS[stack_id]


class _Symbolizer(Symbolizer):
    """Kernel addresses from KALLSYMS; user addresses of process 42 from USER_NAMES."""

    def __init__(self) -> None:
        super().__init__(kallsyms=KALLSYMS)
        self.pids: list[int | None] = []

    def stack(self, pid: int | None, addresses: Iterable[int], *, kernel: bool = False) -> list[Frame]:
        if kernel:
            return super().stack(pid, addresses, kernel=True)
        self.pids.append(pid)
        return [Frame(address, USER_NAMES.get(address) if pid == 42 else None) for address in addresses]


def _key(user: int, kernel: int, *, pid: int = 42, name: str = "spinner", **more: int) -> dict[str, Any]:
    return {"pid": pid, **more, "user_stack_id": user, "kern_stack_id": kernel, "name": name}


def _read(entries: list[tuple[dict[str, Any], int]], sides: StackSides | None = None) -> StackReport:
    counts = {tuple(key.items()): value for key, value in entries}

    class _Counts(dict[Any, int]):
        def keys(self) -> Any:
            return [dict(key) for key in self]

        def pop(self, key: Any, *default: Any) -> Any:
            return super().pop(tuple(key.items()), *default)

    return read_stacks(_Counts(counts), cast(StackTraceMap, _Stacks()), _Symbolizer(), sides or StackSides())


# --- stacks read from the maps ---------------------------------------------------------------------


def test_stack_id_errors_are_bccs_efault_is_no_stack() -> None:
    assert not stack_id_error(0)
    assert not stack_id_error(7)
    assert not stack_id_error(-errno.EFAULT)
    assert stack_id_error(-errno.EEXIST)
    assert stack_id_error(-errno.ENOMEM)


def test_read_stacks_symbolizes_both_sides_and_sorts_busiest_last() -> None:
    report = _read(
        [(_key(2, 1), 30), (_key(2, -errno.EFAULT, pid=7, name="other"), 5), (_key(2, 1, pid=8), 0)]
    )
    assert [row.value for row in report.stacks] == [5, 30]
    busiest = report.stacks[-1]
    assert busiest.user == ("spin", "main")
    assert busiest.kernel == ("schedule", "do_nanosleep", "entry_SYSCALL_64")
    assert (busiest.pid, busiest.tgid, busiest.comm) == (42, 42, "spinner")
    other = report.stacks[0]
    assert other.kernel == ()
    assert other.user == ("[unknown]", "[unknown]")  # process 7's addresses resolve to nothing
    assert (report.missed, report.collisions) == (0, False)


def test_read_stacks_symbolizes_user_stacks_in_the_tasks_process() -> None:
    report = _read([(_key(2, 1, pid=43, tgid=42), 10)])
    (row,) = report.stacks
    assert (row.pid, row.tgid) == (43, 42)
    assert row.user == ("spin", "main")


def test_read_stacks_counts_missed_stacks_and_warns_of_collisions(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ebpf.core"):
        report = _read([(_key(-errno.EEXIST, 1), 3), (_key(2, -errno.ENOMEM), 4)])
    assert report.missed == 2
    assert report.collisions is True
    assert "2 stack traces could not be displayed. Consider increasing --stack-storage-size." in caplog.text


def test_read_stacks_leaves_out_the_side_not_recorded() -> None:
    report = _read([(_key(-1, 1), 3)], StackSides(user=False))
    (row,) = report.stacks
    assert row.user == ()
    assert report.missed == 0  # -1 is "not recorded" (-K), not a missed user stack


def test_a_stack_gone_from_the_map_has_no_frames() -> None:
    (row,) = _read([(_key(99, 1), 1)]).stacks
    assert row.user == ()


# --- output ---------------------------------------------------------------------------------------


def _row(user: int = 2, kernel: int = 1, value: int = 30) -> StackCount:
    return StackCount(
        pid=42,
        tgid=42,
        comm="spinner",
        user=("spin", "main") if user >= 0 else (),
        kernel=("schedule", "do_nanosleep") if kernel >= 0 else (),
        user_stack_id=user,
        kernel_stack_id=kernel,
        value=value,
    )


def test_default_output_is_bccs_kernel_then_user_then_comm_and_count() -> None:
    report = StackReport(time=0.0, stacks=(_row(),))
    assert format_stacks(report, StackSides()) == (
        "    schedule\n    do_nanosleep\n    spin\n    main\n    -                spinner (42)\n        30\n"
    )
    assert "    --\n" in format_stacks(report, StackSides(delimited=True))


def test_default_output_prints_missed_stacks_as_bcc_does() -> None:
    report = StackReport(time=0.0, stacks=(_row(user=-errno.EEXIST, kernel=-errno.ENOMEM),), missed=2)
    text = format_stacks(report, StackSides(delimited=True))
    assert text.splitlines()[:2] == ["    [Missed Kernel Stack]", "    [Missed User Stack]"]
    assert "--" not in text


def test_folded_output_is_comm_then_user_root_first_then_kernel() -> None:
    report = StackReport(time=0.0, stacks=(_row(value=3), _row(value=4), _row(kernel=-errno.EFAULT, value=2)))
    assert format_stacks(report, StackSides(folded=True)) == (
        "spinner;main;spin 2\nspinner;main;spin;do_nanosleep;schedule 7"
    )
    assert folded_stack(_row(), StackSides(delimited=True)) == (
        "spinner",
        "main",
        "spin",
        "-",
        "do_nanosleep",
        "schedule",
    )
    assert folded_stack(_row(user=-errno.EEXIST), StackSides(kernel=False)) == (
        "spinner",
        "[Missed User Stack]",
    )


def test_report_to_dict_is_json_ready() -> None:
    data = StackReport(time=1.5, stacks=(_row(),)).to_dict()
    assert data["stacks"][0]["user"] == ("spin", "main")
    assert data["stacks"][0]["value"] == 30


# --- options and parsers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frequency": 99, "period": 1000}, "not both"),
        ({"frequency": 0}, "frequency"),
        ({"period": -1}, "period"),
        ({"user_stacks_only": True, "kernel_stacks_only": True}, "exclude"),
        ({"cpu": -1}, "cpu"),
        ({"stack_storage_size": 0}, "stack_storage_size"),
    ],
)
def test_profile_options_refuse_bad_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        profile.Options(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"user_threads_only": True, "kernel_threads_only": True}, "exclude"),
        ({"user_stacks_only": True, "kernel_stacks_only": True}, "exclude"),
        ({"min_block_us": -1}, "min_block_us"),
        ({"max_block_us": 2**64}, "max_block_us"),
        ({"min_block_us": 10, "max_block_us": 5}, "below"),
        ({"stack_storage_size": 0}, "stack_storage_size"),
    ],
)
def test_offcputime_options_refuse_bad_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        offcputime.Options(**kwargs)


def test_profile_parser_takes_bccs_options_and_a_positional_duration() -> None:
    tool = get_tool("profile")
    parser = tool.parser("ebpf tool profile")
    options = tool.parse_options(parser.parse_args(["-F", "99", "-C", "1", "-U", "-f", "-I", "-p", "7", "5"]))
    assert options == profile.Options(
        frequency=99, cpu=1, user_stacks_only=True, folded=True, include_idle=True, pid=7, duration=5
    )
    options = tool.parse_options(
        parser.parse_args(["--period", "1000000", "-d", "2", "--stack-storage-size", "64"])
    )
    assert (options.period, options.frequency, options.duration, options.stack_storage_size) == (
        1000000,
        None,
        2,
        64,
    )
    assert tool.parse_options(parser.parse_args([])) == profile.Options()
    for exclusive in (["-U", "-K"], ["-F", "9", "--period", "9"]):
        with pytest.raises(SystemExit):
            parser.parse_args(exclusive)


def test_offcputime_parser_takes_bccs_options() -> None:
    tool = get_tool("offcputime")
    parser = tool.parser("ebpf tool offcputime")
    options = tool.parse_options(
        parser.parse_args(["-u", "-K", "-m", "100", "-M", "5000", "--delimited", "3"])
    )
    assert options == offcputime.Options(
        user_threads_only=True,
        kernel_stacks_only=True,
        min_block_us=100,
        max_block_us=5000,
        delimited=True,
        duration=3,
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["-u", "-k"])


def test_headers_say_what_is_sampled_and_none_when_folded() -> None:
    assert get_tool("profile").header(profile.Options(duration=5)) == (
        "Sampling at 49 Hertz of all threads by user + kernel stack for 5 secs."
    )
    assert get_tool("profile").header(profile.Options(period=1000, pid=3, kernel_stacks_only=True)) == (
        "Sampling at every 1000 ns of process 3 by kernel stack... Hit Ctrl-C to end."
    )
    assert get_tool("offcputime").header(offcputime.Options(user_threads_only=True, duration=1)) == (
        "Tracing off-CPU time (us) of user threads by user + kernel stack for 1 secs."
    )
    assert get_tool("profile").header(profile.Options(folded=True)) is None
    assert get_tool("offcputime").header(offcputime.Options(folded=True)) is None


# --- metrics --------------------------------------------------------------------------------------


def _served(metrics: list[Any]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry(metrics)).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_add_up_every_stack_of_a_comm() -> None:
    counts = {
        (42, 1, 2, "spinner"): 3,
        (42, 5, 2, "spinner"): 4,
        (7, 1, -14, "other"): 2_000_000,
    }
    samples = _served(profile.metrics(CumulativeCounts(counts)))
    assert samples[("ebpf_profile_samples_total", (("comm", "spinner"),))] == 7
    times = _served(offcputime.metrics(CumulativeCounts(counts)))
    assert times[("ebpf_offcputime_seconds_total", (("comm", "other"),))] == 2.0
