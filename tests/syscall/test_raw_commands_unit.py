"""The generated raw layer: one function per bpf command, and the EAGAIN restart of the load commands."""

from __future__ import annotations

import ctypes
import errno
import signal
import typing
from collections.abc import Callable

import pytest

from ebpf.syscall import _kernel, abi, raw
from ebpf.syscall._generated import Cmd


def test_every_command_has_one_raw_function() -> None:
    names = {cmd.name.lower() for cmd in Cmd}  # aliases (PROG_RUN) are not members
    assert set(raw.__all__) == names
    for name in raw.__all__:
        hints = typing.get_type_hints(getattr(raw, name))
        assert hints["attr"] in abi.ATTR_CLASSES, name  # one attr of union bpf_attr in
        assert hints["return"] is int, name  # a result or -errno out


@pytest.mark.parametrize(
    ("function", "cmd"),
    [
        (raw.map_create, Cmd.MAP_CREATE),
        (raw.map_lookup_batch, Cmd.MAP_LOOKUP_BATCH),
        (raw.obj_get, Cmd.OBJ_GET),
    ],
)
def test_raw_functions_pass_their_command(
    monkeypatch: pytest.MonkeyPatch, function: Callable[[ctypes.Structure], int], cmd: Cmd
) -> None:
    seen: list[tuple[int, ctypes.Structure]] = []

    def fake(number: int, attr: ctypes.Structure) -> int:
        seen.append((number, attr))
        return -errno.EBADF

    monkeypatch.setattr(raw, "bpf_errno", fake)
    value = typing.get_type_hints(function)["attr"]()
    assert function(value) == -errno.EBADF
    assert seen == [(cmd, value)]


def test_load_commands_restart_eagain_with_signals_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    results = iter([-errno.EAGAIN, -errno.EAGAIN, 5])
    masks: list[set[int]] = []

    def fake(cmd: int, attr: ctypes.Structure) -> int:
        masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, set()))
        return next(results)

    monkeypatch.setattr(_kernel, "bpf_errno", fake)
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    assert raw.prog_load(abi.ProgLoadAttr()) == 5
    assert signal.SIGINT not in masks[0] or signal.SIGINT in before
    assert all(signal.SIGINT in mask for mask in masks[1:])
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == before  # restored


def test_load_commands_give_up_after_bounded_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fake(cmd: int, attr: ctypes.Structure) -> int:
        calls.append(cmd)
        return -errno.EAGAIN

    monkeypatch.setattr(_kernel, "bpf_errno", fake)
    assert raw.btf_load(abi.BtfLoadAttr()) == -errno.EAGAIN
    assert calls == [Cmd.BTF_LOAD] * (1 + _kernel._EAGAIN_RETRIES)


def test_other_commands_do_not_restart_eagain(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fake(cmd: int, attr: ctypes.Structure) -> int:
        calls.append(cmd)
        return -errno.EAGAIN

    monkeypatch.setattr(raw, "bpf_errno", fake)
    assert raw.prog_test_run(abi.ProgTestRunAttr()) == -errno.EAGAIN
    assert calls == [Cmd.PROG_TEST_RUN]
