"""The process-wide view of the kernel's types: lazy, shared, exact lookups, renewed when the files change."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ebpf.btf import (
    BtfBuilder,
    CoreRelo,
    CoreRelocator,
    Int,
    IntEncoding,
    KernelTypes,
    Kind,
    Member,
    Struct,
    TypeGraph,
    essential_name,
    from_bytes,
    kernel_types,
    load_vmlinux,
)
from ebpf.syscall.abi import CoreReloKind
from ebpf.syscall.errors import NotSupportedError
from tests.btf._fake_kernel import MODULE, fake_kernel


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    return fake_kernel(tmp_path / "btf")


def _counting_graphs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every graph the kernel view builds (by name)."""
    built: list[str] = []

    class Counting(TypeGraph):
        def __init__(self, data: bytes, base: TypeGraph | None = None, *, name: str = "BTF") -> None:
            built.append(Path(name).name)
            super().__init__(data, base, name=name)

    monkeypatch.setattr("ebpf.btf._kernel.TypeGraph", Counting)
    return built


def test_nothing_is_read_until_asked_and_each_file_once(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = _counting_graphs(monkeypatch)
    view = kernel_types(fake)
    assert view.module_names == [MODULE]
    assert built == []
    assert view.find("task_struct", Kind.STRUCT) is not None  # found in vmlinux: the module is not read
    assert built == ["vmlinux"]
    found = view.find("mod_kfunc", Kind.FUNC)
    assert found is not None
    assert (found.module, found.name, found.type_id) == (MODULE, "mod_kfunc", view.vmlinux.last_id + 4)
    assert built == ["vmlinux", MODULE]
    # later callers share the graphs: the process reads each file once
    assert kernel_types(fake) is view
    assert kernel_types(fake).find("mod_var", Kind.VAR) is not None
    assert built == ["vmlinux", MODULE]


def test_vmlinux_wins_and_modules_only_add(fake: Path) -> None:
    view = kernel_types(fake)
    task = view.find("task_struct", Kind.STRUCT)
    assert task is not None
    assert (task.module, task.type_id) == (None, 2)
    # find_all lists both, vmlinux first; a module's own ids only
    assert [(t.module, t.type_id) for t in view.find_all("task_struct", Kind.STRUCT)] == [
        (None, 2),
        (MODULE, view.vmlinux.last_id + 6),
    ]
    assert view.find("mod_state", Kind.STRUCT, module=MODULE) is not None
    assert view.find("mod_state", Kind.STRUCT, module="not_loaded") is None
    assert view.find("no_such_thing") is None
    assert str(task.type) == "struct task_struct"
    assert "vmlinux" in repr(task)


def test_a_new_module_gives_a_new_view_that_keeps_vmlinux(fake: Path, tmp_path: Path) -> None:
    first = kernel_types(fake)
    vmlinux = first.vmlinux
    module_bytes = (fake / MODULE).read_bytes()
    (fake / MODULE).unlink()  # unloaded
    second = kernel_types(fake)
    assert second is not first
    assert second.module_names == []
    assert second.vmlinux is vmlinux  # unchanged files are not read again
    assert second.find("mod_kfunc", Kind.FUNC) is None
    (fake / "othermod").write_bytes(module_bytes)  # another module appears
    third = kernel_types(fake)
    assert third.module_names == ["othermod"]
    found = third.find("mod_kfunc", Kind.FUNC)
    assert found is not None
    assert found.module == "othermod"
    # a view already handed out does not change under its user
    assert first.module_names == [MODULE]


def test_a_reloaded_module_is_read_again(fake: Path) -> None:
    first = kernel_types(fake)
    old = first.module(MODULE)
    assert old is not None
    before = os.stat(fake / MODULE).st_ino
    replacement = fake / f"{MODULE}.new"
    replacement.write_bytes((fake / MODULE).read_bytes())
    replacement.rename(fake / MODULE)  # same name, a new file: sysfs gives a reloaded module's a new inode
    assert os.stat(fake / MODULE).st_ino != before
    second = kernel_types(fake)
    assert second is not first
    assert second.vmlinux is first.vmlinux
    new = second.module(MODULE)
    assert new is not None
    assert new is not old


def test_threads_share_one_load(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = _counting_graphs(monkeypatch)
    barrier = threading.Barrier(8)
    seen: list[object] = []

    def work() -> None:
        barrier.wait()
        view = kernel_types(fake)
        seen.append((view, view.vmlinux, view.module(MODULE)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(map(id, (s[0] for s in seen)))) == 1  # type: ignore[index]
    assert sorted(built) == [MODULE, "vmlinux"]


def test_no_vmlinux_is_not_supported(tmp_path: Path) -> None:
    view = kernel_types(tmp_path / "missing")
    assert view.module_names == []
    with pytest.raises(NotSupportedError, match=r"kernel BTF .*requires Linux 5\.4"):
        _ = view.vmlinux


def test_lookups_are_exact_whole_names(fake: Path) -> None:
    vmlinux = kernel_types(fake).vmlinux
    assert [t.name for t in vmlinux.find_all("sock")] == ["sock"]  # not the tail of inet_sock
    assert [t.name for t in vmlinux.find_all("inet_sock")] == ["inet_sock"]
    assert vmlinux.find_all("ock") == []
    assert vmlinux.own_ids("sock", Kind.STRUCT) == [3]
    assert vmlinux.own_ids("sock", Kind.UNION) == []
    module = kernel_types(fake).module(MODULE)
    assert module is not None
    # a split blob's own names are in its strings (the first one at its very start) or in its base's
    assert module.own_ids("mod_state") == [vmlinux.last_id + 1]
    assert module.own_ids("task_struct") == [vmlinux.last_id + 6]
    assert [t.id for t in module.find_all("task_struct")] == [2, vmlinux.last_id + 6]


def test_a_string_stored_twice_finds_both_records() -> None:
    # BTF does not require unique strings: a graph read from bytes searches on after the first match
    builder = BtfBuilder()
    i = builder.add(Int(0, "int", 4, IntEncoding.SIGNED, 32))
    builder.add(Struct(0, "dup", 4, (Member("a", i, 0),)))
    builder.add(Struct(0, "xyz", 4, (Member("a", i, 0),)))
    blob = builder.build()
    assert blob.count(b"\0xyz\0") == 1
    graph = from_bytes(blob.replace(b"\0xyz\0", b"\0dup\0"))  # the same name, stored twice
    assert [t.id for t in graph.find_all("dup")] == [2, 3]
    assert graph.find_all("xyz") == []


def test_flavours_are_found_once_per_essential_name(fake: Path) -> None:
    vmlinux = kernel_types(fake).vmlinux
    assert vmlinux.flavours_of("nf_conn") == ["nf_conn___init"]
    assert vmlinux.flavours_of("sock") == []  # sock____pad: four underscores are no separator
    assert essential_name("sock____pad") == "sock____pad"
    assert essential_name("a___b___c") == "a___b"


def test_core_relocator_takes_candidates_from_the_view(fake: Path) -> None:
    view = kernel_types(fake)
    local = BtfBuilder()
    i = local.add(Int(0, "int", 4, IntEncoding.SIGNED, 32))
    local.add(Struct(0, "mod_state___mine", 8, (Member("pad", i, 0), Member("counter", i, 32))))
    graph = local.graph("local")

    # ldxw r1, [r1 + 4]: the local offset of counter, to become the module's 0
    code = bytes([0x61, 0x11, 4, 0, 0, 0, 0, 0])
    relocator = CoreRelocator(graph, kernel=view)
    patched, (result,) = relocator.relocate(code, [CoreRelo(0, 2, "0:1", CoreReloKind.FIELD_BYTE_OFFSET)])
    assert patched[2:4] == b"\0\0"
    assert result.target is not None
    assert MODULE in result.target
    with pytest.raises(ValueError, match="not both"):
        CoreRelocator(graph, [view.vmlinux], kernel=view)


def test_the_running_kernel_is_one_shared_view(vmlinux: TypeGraph) -> None:
    view = kernel_types()
    assert load_vmlinux() is view.vmlinux is vmlinux
    assert isinstance(view, KernelTypes)
    # the kernel's string section holds each string once: lookups stop at the first match
    strings = view.vmlinux.string_section.split(b"\0")
    assert len(set(strings)) == len(strings) - (strings.count(b"") - 1)
    task = view.find("task_struct", Kind.STRUCT)
    assert task is not None
    assert task.module is None
    # read in place where the kernel lets its BTF be mapped (6.16+), else read: the same bytes
    assert view.vmlinux.data == Path("/sys/kernel/btf/vmlinux").read_bytes()
