"""The error hierarchy: classes, errno mapping and messages."""

from __future__ import annotations

import errno
import pickle

import pytest

from ebpf.syscall import errors
from ebpf.syscall.errors import (
    BpfSyscallError,
    EbpfError,
    KeyNotFoundError,
    LibraryLimitError,
    NotSupportedError,
    ParseError,
    PermissionDeniedError,
    VerifierError,
    syscall_error,
)


def test_hierarchy() -> None:
    assert issubclass(BpfSyscallError, EbpfError)
    assert issubclass(BpfSyscallError, OSError)
    assert issubclass(PermissionDeniedError, PermissionError)
    assert issubclass(KeyNotFoundError, KeyError)
    assert issubclass(VerifierError, BpfSyscallError)
    assert issubclass(NotSupportedError, EbpfError)
    assert issubclass(LibraryLimitError, EbpfError)
    assert issubclass(LibraryLimitError, NotImplementedError)
    assert not issubclass(LibraryLimitError, NotSupportedError)
    assert issubclass(ParseError, ValueError)


@pytest.mark.parametrize(
    ("err", "command", "cls"),
    [
        (errno.EPERM, "BPF_MAP_CREATE", PermissionDeniedError),
        (errno.EACCES, "BPF_OBJ_GET", PermissionDeniedError),
        (errno.ENOENT, "BPF_MAP_LOOKUP_ELEM", KeyNotFoundError),
        (errno.ENOENT, "BPF_MAP_DELETE_ELEM", KeyNotFoundError),
        (errno.ENOENT, "BPF_OBJ_GET", BpfSyscallError),
        (errno.ENOENT, "BPF_MAP_GET_NEXT_KEY", BpfSyscallError),
        # One mapping for commands and maps: ENOENT of an update with EXIST is a missing key.
        (errno.ENOENT, "BPF_MAP_UPDATE_ELEM", KeyNotFoundError),
        # Writes to a frozen or read-only map: not a missing privilege.
        (errno.EPERM, "BPF_MAP_UPDATE_ELEM", BpfSyscallError),
        (errno.EPERM, "BPF_MAP_DELETE_ELEM", BpfSyscallError),
        (errno.EPERM, "BPF_MAP_UPDATE_BATCH", BpfSyscallError),
        (errno.EINVAL, "BPF_MAP_CREATE", BpfSyscallError),
    ],
)
def test_errno_mapping(err: int, command: str, cls: type[BpfSyscallError]) -> None:
    exc = syscall_error(err, command, "doing things")
    assert type(exc) is cls
    assert exc.errno == err
    assert exc.command == command
    assert "doing things" in str(exc)
    assert command in str(exc)


def test_permission_message_names_capability_and_remedy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "_has_capability", lambda name: False)
    exc = syscall_error(errno.EPERM, "perf_event_open")
    assert isinstance(exc, PermissionDeniedError)
    assert exc.capability == "CAP_PERFMON"
    assert "this needs CAP_PERFMON" in str(exc)
    assert "setcap" in str(exc)
    exc = syscall_error(errno.EPERM, "BPF_LINK_CREATE", capability="CAP_NET_ADMIN")
    assert "CAP_NET_ADMIN" in str(exc)
    assert "unprivileged_bpf_disabled" in str(exc)


def test_permission_message_when_capability_is_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "_has_capability", lambda name: True)
    exc = syscall_error(errno.EPERM, "BPF_PROG_LOAD")
    assert "refused although this process has CAP_BPF" in str(exc)
    assert "setcap" not in str(exc)


def test_permission_error_does_no_io_when_built_or_unpickled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "_has_capability", lambda name: False)
    raised = syscall_error(errno.EPERM, "BPF_PROG_LOAD", "loading program 'x'")
    assert isinstance(raised, PermissionDeniedError)

    def no_io(name: str) -> bool:
        raise AssertionError(f"reading the capabilities of the process ({name}) outside syscall_error()")

    monkeypatch.setattr(errors, "_has_capability", no_io)
    again = pickle.loads(pickle.dumps(raised))
    assert type(again) is PermissionDeniedError
    assert str(again) == str(raised)
    assert (again.errno, again.command, again.context, again.capability, again.hint) == (
        raised.errno,
        raised.command,
        raised.context,
        raised.capability,
        raised.hint,
    )
    built = PermissionDeniedError(errno.EPERM, "BPF_MAP_CREATE", "creating map 'm'", "CAP_BPF")
    assert "this needs CAP_BPF" in str(built)


def test_not_supported_error_pickles_its_detail() -> None:
    exc = NotSupportedError("ring buffer maps", "5.8", "probe said no")
    assert str(pickle.loads(pickle.dumps(exc))) == str(exc)


def test_map_write_hints() -> None:
    exc = syscall_error(errno.EPERM, "BPF_MAP_UPDATE_ELEM", "updating 1 in map 'm'")
    assert str(exc).endswith("; the map is frozen or read-only for user space")
    exc = syscall_error(errno.EEXIST, "BPF_MAP_UPDATE_ELEM", "updating 1 in map 'm'")
    assert str(exc).endswith("; the key exists and NOEXIST was given")
    exc = syscall_error(errno.E2BIG, "BPF_MAP_UPDATE_ELEM", "x", "the map is full (max_entries=4)")
    assert type(exc) is BpfSyscallError
    assert exc.hint == "the map is full (max_entries=4)"


def test_a_hint_explains_eperm_instead_of_a_capability() -> None:
    exc = syscall_error(errno.EPERM, "BPF_OBJ_PIN", "pinning", "/tmp/x is not on a BPF filesystem")
    assert type(exc) is BpfSyscallError
    assert "not on a BPF filesystem" in str(exc)
    denied = syscall_error(errno.EPERM, "BPF_OBJ_PIN", "pinning")
    assert isinstance(denied, PermissionDeniedError)


def test_key_not_found_str_is_not_quoted() -> None:
    exc = syscall_error(errno.ENOENT, "BPF_MAP_LOOKUP_ELEM", "looking up key 1")
    assert str(exc).startswith("looking up key 1: BPF_MAP_LOOKUP_ELEM")


def test_verifier_error_shows_cause_and_tail() -> None:
    log = [f"{i}: (b7) r0 = {i}" for i in range(30)]
    log += ["R1 invalid mem access 'scalar'", "processed 31 insns (limit 1000000)"]
    exc = VerifierError(errno.EACCES, "BPF_PROG_LOAD", "loading XDP program 'x'", log)
    text = str(exc)
    assert text.splitlines()[0].endswith("R1 invalid mem access 'scalar'")
    assert "loading XDP program 'x'" in text
    assert "(21 earlier lines omitted)" in text
    assert "29: (b7) r0 = 29" in text
    assert "0: (b7) r0 = 0\n" not in text
    assert exc.log == log


def test_verifier_error_without_log() -> None:
    exc = VerifierError(errno.EINVAL, "BPF_BTF_LOAD")
    assert "rejected by the verifier" in str(exc)


def test_not_supported_names_feature_and_version() -> None:
    exc = NotSupportedError("ring buffer maps", "5.8")
    assert str(exc) == "ring buffer maps not supported by this kernel (requires Linux 5.8 or newer)"


@pytest.mark.parametrize(
    "exc",
    [
        syscall_error(errno.EPERM, "BPF_MAP_CREATE", "x"),
        syscall_error(errno.ENOENT, "BPF_MAP_LOOKUP_ELEM"),
        VerifierError(errno.EACCES, "BPF_PROG_LOAD", "y", ["a", "b"], truncated=True),
        NotSupportedError("z", "6.6"),
        BpfSyscallError(errno.EINVAL, "BPF_MAP_CREATE", "c"),
    ],
)
def test_errors_pickle(exc: EbpfError) -> None:
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is type(exc)
    assert str(again) == str(exc)
