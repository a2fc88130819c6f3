"""Every bpf(2) command family against the running kernel, with effects checked."""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from pathlib import Path

import pytest
from privileges import run_without_capabilities

from ebpf.syscall import bpf_failed, bpf_prepared, commands, objects
from ebpf.syscall.abi import AttachType, Cmd, MapElemAttr, MapType, ProgType
from ebpf.syscall.errors import BpfSyscallError, KeyNotFoundError, PermissionDeniedError, VerifierError
from ebpf.syscall.fd import FD
from ebpf.syscall.flags import UpdateFlags

U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One raw eBPF instruction (ebpf.asm builds these for users)."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


MOV64_IMM = 0xB7
EXIT = 0x95
CALL = 0x85
LD_IMM64 = 0x18
ST_MEM_W = 0x62
ATOMIC_DW = 0xDB
MOV64_REG = 0xBF
ADD64_IMM = 0x07
JNE_IMM = 0x55
PSEUDO_MAP_FD = 1
BPF_FUNC_MAP_LOOKUP_ELEM = 1


def return_value(value: int) -> bytes:
    return insn(MOV64_IMM, 0, imm=value) + insn(EXIT)


def count_into(map_fd: int) -> bytes:
    """A program that does ``counters[0] += 1`` on a u32 -> u64 array and returns 1."""
    return b"".join(
        [
            insn(ST_MEM_W, 10, 0, -4, 0),  # *(u32 *)(r10 - 4) = 0
            insn(LD_IMM64, 1, PSEUDO_MAP_FD, 0, map_fd),
            insn(0, 0, 0, 0, 0),
            insn(MOV64_REG, 2, 10),
            insn(ADD64_IMM, 2, imm=-4),
            insn(CALL, imm=BPF_FUNC_MAP_LOOKUP_ELEM),
            insn(JNE_IMM, 0, off=1, imm=0),  # if r0 != 0 skip the exit
            insn(EXIT),
            insn(MOV64_IMM, 1, imm=1),
            insn(ATOMIC_DW, 0, 1, 0, 0),  # lock *(u64 *)(r0 + 0) += r1
            insn(MOV64_IMM, 0, imm=1),
            insn(EXIT),
        ]
    )


@pytest.fixture
def hash_map() -> FD:
    return commands.map_create(MapType.HASH, 4, 8, 64, name="test_hash")


def test_hash_map_element_lifecycle(hash_map: FD) -> None:
    with hash_map:
        value = bytearray(8)
        with pytest.raises(KeyNotFoundError):
            commands.map_lookup_elem(hash_map, U32.pack(7), value)
        commands.map_update_elem(hash_map, U32.pack(7), U64.pack(700))
        commands.map_lookup_elem(hash_map, U32.pack(7), value)
        assert U64.unpack(value)[0] == 700
        with pytest.raises(BpfSyscallError) as exc:
            commands.map_update_elem(hash_map, U32.pack(7), U64.pack(1), UpdateFlags.NOEXIST)
        assert exc.value.errno == errno.EEXIST
        with pytest.raises(BpfSyscallError) as exc:
            commands.map_update_elem(hash_map, U32.pack(8), U64.pack(1), UpdateFlags.EXIST)
        assert exc.value.errno == errno.ENOENT
        commands.map_delete_elem(hash_map, U32.pack(7))
        with pytest.raises(KeyNotFoundError):
            commands.map_delete_elem(hash_map, U32.pack(7))


def test_prepared_calls_reuse_one_attr(hash_map: FD) -> None:
    with hash_map:
        key, value = ctypes.create_string_buffer(4), ctypes.create_string_buffer(8)
        attr = MapElemAttr(map_fd=hash_map.fileno(), key=ctypes.addressof(key))
        attr.value = ctypes.addressof(value)
        update, lookup = bpf_prepared(Cmd.MAP_UPDATE_ELEM, attr), bpf_prepared(Cmd.MAP_LOOKUP_ELEM, attr)
        key.raw, value.raw = struct.pack("=I", 1), struct.pack("=Q", 99)
        assert update() == 0
        value.raw = bytes(8)
        assert lookup() == 0
        assert struct.unpack("=Q", value.raw)[0] == 99
        key.raw = struct.pack("=I", 2)  # the same call, another key
        assert lookup() == -1
        assert bpf_failed(lookup) == -errno.ENOENT


def test_get_next_key_walks_every_key(hash_map: FD) -> None:
    with hash_map:
        for k in range(10):
            commands.map_update_elem(hash_map, U32.pack(k), U64.pack(k * k))
        seen = []
        key: bytearray | None = None
        nxt = bytearray(4)
        while commands.map_get_next_key(hash_map, key, nxt):
            seen.append(U32.unpack(nxt)[0])
            key = bytearray(nxt)
        assert sorted(seen) == list(range(10))


def test_batch_operations(hash_map: FD) -> None:
    n = 40
    with hash_map:
        keys = b"".join(U32.pack(k) for k in range(n))
        values = b"".join(U64.pack(k + 1000) for k in range(n))
        assert commands.map_update_batch(hash_map, keys, values, n) == n
        out_keys, out_values, cursor = bytearray(4 * 64), bytearray(8 * 64), bytearray(4)
        result = commands.map_lookup_batch(hash_map, None, cursor, out_keys, out_values, 64)
        assert result.done
        assert result.count == n
        got = {U32.unpack_from(out_keys, 4 * i)[0]: U64.unpack_from(out_values, 8 * i)[0] for i in range(n)}
        assert got == {k: k + 1000 for k in range(n)}
        assert commands.map_delete_batch(hash_map, keys[: 4 * 10], 10) == 10
        result = commands.map_lookup_and_delete_batch(hash_map, None, cursor, out_keys, out_values, 64)
        assert result.count == n - 10
        assert not commands.map_get_next_key(hash_map, None, bytearray(4))


def test_queue_pop_and_freeze() -> None:
    with commands.map_create(MapType.QUEUE, 0, 8, 4) as queue:
        for v in (1, 2, 3):
            commands.map_update_elem(queue, None, U64.pack(v))
        out = bytearray(8)
        commands.map_lookup_elem(queue, None, out)  # peek
        assert U64.unpack(out)[0] == 1
        commands.map_lookup_and_delete_elem(queue, None, out)
        assert U64.unpack(out)[0] == 1
        commands.map_freeze(queue)
        with pytest.raises(BpfSyscallError) as exc:
            commands.map_update_elem(queue, None, U64.pack(9))
        assert exc.value.errno == errno.EPERM
        assert type(exc.value) is BpfSyscallError
        assert "frozen" in str(exc.value)


def test_program_loads_runs_and_uses_map() -> None:
    with (
        commands.map_create(MapType.ARRAY, 4, 8, 1, name="counter") as counter,
        commands.prog_load(ProgType.SOCKET_FILTER, count_into(counter.fileno()), name="count") as prog,
    ):
        result = commands.prog_test_run(prog, data_in=bytes(64), repeat=5)
        assert result.retval == 1
        assert len(result.data_out) == 64
        value = bytearray(8)
        commands.map_lookup_elem(counter, U32.pack(0), value)
        assert U64.unpack(value)[0] == 5  # the program really ran five times
        info = objects.get_program_info(prog)
        assert info.name == "count"
        assert info.type == ProgType.SOCKET_FILTER
        assert info.map_ids == (objects.get_map_info(counter).id,)
        assert len(objects.program_xlated_insns(prog)) >= 8 * 10
        assert info.id in set(objects.prog_ids())


def test_two_instruction_program_return_value() -> None:
    with commands.prog_load(ProgType.XDP, return_value(2), name="xdp_pass") as prog:
        assert commands.prog_test_run(prog, data_in=bytes(64)).retval == 2


def test_verifier_rejection_carries_log() -> None:
    with pytest.raises(VerifierError) as exc:
        commands.prog_load(ProgType.SOCKET_FILTER, insn(EXIT), name="bad")
    assert exc.value.errno == errno.EACCES
    assert any("R0 !read_ok" in line for line in exc.value.log)
    assert "R0 !read_ok" in str(exc.value).splitlines()[0]


def test_verifier_log_grows_past_a_small_buffer() -> None:
    # log_level=2 logs every instruction; 2000 of them overflow 4 KiB many times over.
    body = insn(MOV64_IMM, 1, imm=1) * 2000 + insn(EXIT)
    with pytest.raises(VerifierError) as exc:
        commands.prog_load(ProgType.SOCKET_FILTER, body, log_level=2, log_size=4096)
    assert sum(len(line) + 1 for line in exc.value.log) > 4096 * 4
    assert not exc.value.truncated
    assert any("R0 !read_ok" in line for line in exc.value.log[-5:])


def test_bad_arguments_fail_before_the_syscall() -> None:
    with pytest.raises(ValueError, match="at most 15"):
        commands.map_create(MapType.HASH, 4, 4, 1, name="x" * 16)
    with pytest.raises(ValueError, match="characters the kernel rejects"):
        commands.map_create(MapType.HASH, 4, 4, 1, name="a-b")
    with pytest.raises(ValueError, match="multiple of 8"):
        commands.prog_load(ProgType.XDP, b"\x95\0\0")


def test_kernel_rejects_bad_sizes() -> None:
    with pytest.raises(BpfSyscallError) as exc:
        commands.map_create(MapType.HASH, 0, 8, 1, name="zero_key")
    assert exc.value.errno == errno.EINVAL
    assert "creating HASH map 'zero_key'" in str(exc.value)


def test_bad_fd() -> None:
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        with pytest.raises(BpfSyscallError) as exc:
            commands.map_lookup_elem(fd, U32.pack(0), bytearray(8))
        assert exc.value.errno == errno.EINVAL
    finally:
        os.close(fd)
    with pytest.raises(BpfSyscallError) as exc:
        commands.map_lookup_elem(999_999, U32.pack(0), bytearray(8))
    assert exc.value.errno == errno.EBADF


def test_pin_and_reopen(bpffs: Path) -> None:
    path = bpffs / "pinned_map"
    with commands.map_create(MapType.ARRAY, 4, 8, 2, name="pinme") as m:
        commands.map_update_elem(m, U32.pack(1), U64.pack(4242))
        commands.obj_pin(m, path)
        with pytest.raises(BpfSyscallError) as exc:
            commands.obj_pin(m, path)
        assert exc.value.errno == errno.EEXIST
    with commands.obj_get(path) as again:
        value = bytearray(8)
        commands.map_lookup_elem(again, U32.pack(1), value)
        assert U64.unpack(value)[0] == 4242
        assert objects.get_map_info(again).name == "pinme"
    path.unlink()
    with pytest.raises(BpfSyscallError) as exc:
        commands.obj_get(path)
    assert exc.value.errno == errno.ENOENT


def test_pin_outside_bpffs_explains(tmp_path: Path) -> None:
    with commands.map_create(MapType.ARRAY, 4, 8, 1) as m, pytest.raises(BpfSyscallError) as exc:
        commands.obj_pin(m, tmp_path / "nope")
    assert "bpffs" in str(exc.value)


def test_enumerate_and_open_by_id() -> None:
    with commands.map_create(MapType.HASH, 8, 8, 4, name="enum_me") as m:
        info = objects.get_map_info(m)
        assert (info.key_size, info.value_size, info.max_entries) == (8, 8, 4)
        assert info.id in set(objects.map_ids())
        assert any(found.name == "enum_me" for found in objects.list_maps())
        with commands.map_get_fd_by_id(info.id) as again:
            assert objects.get_map_info(again).id == info.id
    assert info.id not in set(objects.map_ids())
    btfs = objects.list_btfs()
    assert any(b.name == "vmlinux" and b.kernel_btf for b in btfs)
    with commands.btf_get_fd_by_id(next(b.id for b in btfs if b.name == "vmlinux")) as vmlinux:
        assert objects.btf_data(vmlinux)[:2] == b"\x9f\xeb"


def test_btf_load_rejects_garbage_with_log() -> None:
    bad = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 0, 0, 0)
    with pytest.raises((VerifierError, BpfSyscallError)) as exc:
        commands.btf_load(bad)
    assert exc.value.errno == errno.EINVAL


def test_raw_tracepoint_link_fires() -> None:
    with (
        commands.map_create(MapType.ARRAY, 4, 8, 1, name="rtp_count") as counter,
        commands.prog_load(ProgType.RAW_TRACEPOINT, count_into(counter.fileno()), name="rtp") as prog,
    ):
        link = commands.raw_tracepoint_open("sys_enter", prog)
        value = bytearray(8)
        with link:
            for _ in range(5):
                os.getppid()
            commands.map_lookup_elem(counter, U32.pack(0), value)
            during = U64.unpack(value)[0]
            assert during >= 5
            fd_info = commands.task_fd_query(os.getpid(), link.fileno())
            assert fd_info.prog_id == objects.get_program_info(prog).id
            assert fd_info.name == "sys_enter"
        commands.map_lookup_elem(counter, U32.pack(0), value)
        after_close = U64.unpack(value)[0]
        for _ in range(5):
            os.getppid()
        commands.map_lookup_elem(counter, U32.pack(0), value)
        assert U64.unpack(value)[0] == after_close  # detached: the count stopped


def test_enable_stats_counts_runs() -> None:
    with commands.enable_stats(), commands.prog_load(ProgType.SOCKET_FILTER, return_value(0)) as prog:
        commands.prog_test_run(prog, data_in=bytes(64), repeat=3)
        info = objects.get_program_info(prog)
        assert info.run_count == 3


def test_cgroup_attach_query_detach(tmp_path: Path) -> None:
    from ebpf.syscall.system import cgroup2_path

    root = cgroup2_path()
    if root is None:
        pytest.skip("no cgroup v2 mount")
    cg = root / f"ebpf-test-{os.getpid()}"
    cg.mkdir()
    try:
        cg_fd = FD(os.open(cg, os.O_RDONLY | os.O_DIRECTORY))
        with (
            cg_fd,
            commands.prog_load(
                ProgType.CGROUP_SKB,
                return_value(1),
                expected_attach_type=AttachType.CGROUP_INET_EGRESS,
                name="cg_egress",
            ) as prog,
        ):
            commands.prog_attach(cg_fd, prog, AttachType.CGROUP_INET_EGRESS)
            query = commands.prog_query(cg_fd, AttachType.CGROUP_INET_EGRESS)
            assert query.prog_ids == (objects.get_program_info(prog).id,)
            commands.prog_detach(cg_fd, AttachType.CGROUP_INET_EGRESS, prog)
            assert commands.prog_query(cg_fd, AttachType.CGROUP_INET_EGRESS).prog_ids == ()
    finally:
        cg.rmdir()


def test_unprivileged_process_gets_permission_denied() -> None:
    if Path("/proc/sys/kernel/unprivileged_bpf_disabled").read_text().strip() == "0":
        pytest.skip("unprivileged BPF is enabled on this machine (kernel.unprivileged_bpf_disabled=0)")

    def create() -> str:
        with commands.map_create(MapType.HASH, 4, 4, 1):
            return "created"

    with pytest.raises(PermissionDeniedError) as exc:
        run_without_capabilities(create)
    assert exc.value.capability == "CAP_BPF"
    assert "CAP_BPF" in str(exc.value)
    assert exc.value.errno == errno.EPERM
