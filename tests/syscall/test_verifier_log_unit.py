"""The verifier log retry strategy of ``BPF_PROG_LOAD`` and ``BPF_BTF_LOAD``, against a fake kernel."""

from __future__ import annotations

import ctypes
import errno
from dataclasses import dataclass, field

import pytest

from ebpf.syscall import commands, raw
from ebpf.syscall._generated import BtfLoadAttr, Cmd, ProgLoadAttr, ProgType
from ebpf.syscall.errors import VerifierError

_EXIT = bytes([0x95, 0, 0, 0, 0, 0, 0, 0])


@dataclass
class FakeVerifier:
    """A kernel whose verifier always rejects, after writing a log of ``log_bytes`` bytes.

    Like the kernel, it writes at most ``log_size - 1`` bytes and a NUL, and
    answers ``ENOSPC`` instead of the verdict when the log did not fit. With
    ``true_size`` it reports the size it needed, as kernels since 6.4 do.
    """

    log_bytes: int
    true_size: bool
    verdict: int = errno.EACCES
    sizes: list[int] = field(default_factory=list)

    def text(self) -> bytes:
        line = b"0: (b7) r1 = 1\n"
        return (line * (self.log_bytes // len(line) + 1))[: self.log_bytes]

    def __call__(self, cmd: Cmd, attr: ProgLoadAttr | BtfLoadAttr) -> int:
        if isinstance(attr, ProgLoadAttr):
            level, buf, size = int(attr.log_level), int(attr.log_buf), int(attr.log_size)
        else:
            level, buf, size = int(attr.btf_log_level), int(attr.btf_log_buf), int(attr.btf_log_size)
        self.sizes.append(size if level else 0)
        if not level:
            return -self.verdict
        assert size >= 128
        text = self.text()
        n = min(len(text), size - 1)
        ctypes.memmove(buf, text, n)
        ctypes.memset(buf + n, 0, 1)
        if self.true_size:
            if isinstance(attr, ProgLoadAttr):
                attr.log_true_size = len(text) + 1
            else:
                attr.btf_log_true_size = len(text) + 1
        return -errno.ENOSPC if n < len(text) else -self.verdict


def _use(monkeypatch: pytest.MonkeyPatch, fake: FakeVerifier) -> None:
    """Make the raw load commands call ``fake`` instead of the kernel."""
    monkeypatch.setattr(raw, "prog_load", lambda attr: fake(Cmd.PROG_LOAD, attr))
    monkeypatch.setattr(raw, "btf_load", lambda attr: fake(Cmd.BTF_LOAD, attr))


def _load(
    monkeypatch: pytest.MonkeyPatch, fake: FakeVerifier, log_level: int = 0, log_size: int = 0
) -> VerifierError:
    _use(monkeypatch, fake)
    with pytest.raises(VerifierError) as exc:
        commands.prog_load(ProgType.SOCKET_FILTER, _EXIT, log_level=log_level, log_size=log_size)
    return exc.value


@pytest.mark.parametrize("true_size", [False, True], ids=["before-6.4", "log_true_size"])
def test_small_explicit_log_size_still_yields_the_whole_log(
    monkeypatch: pytest.MonkeyPatch, true_size: bool
) -> None:
    fake = FakeVerifier(log_bytes=60_000, true_size=true_size)
    err = _load(monkeypatch, fake, log_level=1, log_size=1024)
    assert not err.truncated
    assert err.errno == errno.EACCES
    assert "\n".join(err.log) + "\n" == fake.text().decode()
    # Without log_true_size the buffer jumps to 256 KiB; with it, to exactly what was needed.
    assert fake.sizes == [1024, 256 * 1024 if not true_size else 60_001]


def test_without_log_true_size_the_buffer_grows_fourfold_to_16_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVerifier(log_bytes=10 << 20, true_size=False)
    err = _load(monkeypatch, fake)
    assert not err.truncated
    assert fake.sizes == [0, 256 << 10, 1 << 20, 4 << 20, (16 << 20) - 1]


def test_a_log_beyond_16_mib_is_reported_truncated_without_log_true_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeVerifier(log_bytes=20 << 20, true_size=False)
    err = _load(monkeypatch, fake)
    assert err.truncated
    assert err.errno == errno.ENOSPC
    assert fake.sizes[-1] == (16 << 20) - 1
    assert len(fake.sizes) == 5


def test_log_true_size_beyond_16_mib_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVerifier(log_bytes=20 << 20, true_size=True)
    err = _load(monkeypatch, fake)
    assert not err.truncated
    assert fake.sizes == [0, 256 << 10, (20 << 20) + 1]


def test_a_complete_first_log_is_not_requested_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVerifier(log_bytes=500, true_size=False)
    err = _load(monkeypatch, fake, log_level=1, log_size=1024)
    assert fake.sizes == [1024]
    assert len(err.log) == 500 // len("0: (b7) r1 = 1\n") + 1


def test_btf_load_grows_its_log_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVerifier(log_bytes=300_000, true_size=False, verdict=errno.EINVAL)
    _use(monkeypatch, fake)
    with pytest.raises(VerifierError) as exc:
        commands.btf_load(b"\0" * 24, log_level=1, log_size=4096)
    assert not exc.value.truncated
    assert exc.value.errno == errno.EINVAL
    assert fake.sizes == [4096, 256 << 10, 1 << 20]


def test_efault_is_retried_with_a_log(monkeypatch: pytest.MonkeyPatch) -> None:
    # 6.1's verifier gives up with EFAULT on a too complex jump sequence, and says so in its log.
    fake = FakeVerifier(log_bytes=1000, true_size=False, verdict=errno.EFAULT)
    err = _load(monkeypatch, fake)
    assert err.errno == errno.EFAULT
    assert fake.sizes == [0, 256 << 10]
    assert err.log


def test_eperm_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVerifier(log_bytes=1000, true_size=False, verdict=errno.EPERM)
    _use(monkeypatch, fake)
    with pytest.raises(PermissionError):
        commands.prog_load(ProgType.SOCKET_FILTER, _EXIT)
    assert fake.sizes == [0]
