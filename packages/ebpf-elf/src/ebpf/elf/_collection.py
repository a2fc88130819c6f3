"""``Collection``: the maps and programs of a [`CollectionSpec`][ebpf.elf.CollectionSpec], live in the kernel.

Loading is staged in one ``ExitStack`` (docs/architecture.md, Loading a collection), in libbpf's
order: the object's BTF; the maps (reusing pins and replacements); the
programs, relocated against the maps' descriptors, CO-RE applied; then the
map contents that name other objects (program arrays, maps of maps). If any
step fails, everything created so far is closed and any pin it created is
removed before the error propagates; on success the collection owns it all.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from ebpf.btf import load_btf
from ebpf.maps import DEFAULT_PIN_ROOT, DescriptorMap, Map, MapSpec, PinType
from ebpf.progs import Link, Program, attach_struct_ops
from ebpf.syscall import ProgType
from ebpf.syscall.errors import BpfSyscallError
from ebpf.syscall.fd import FD

from ._attach import Links, attach_all
from ._co_re import CoreRelocations
from ._externs import KCONFIG, resolve_kconfig
from ._ksyms import resolve_ksyms
from ._relocate import apply_references
from ._spec import CollectionSpec
from ._struct_ops import KernelStructOps, StructOpsLoad, prepare_struct_ops
from ._variables import Variable

if TYPE_CHECKING:
    from ._usdt_attach import UsdtLink

__all__ = ["Collection"]

logger = logging.getLogger("ebpf.elf")


def _compatible(existing: Map, spec: MapSpec) -> str:
    """What differs between a replacement map and the spec it replaces ("" when they match)."""
    wanted = {
        "type": (int(existing.type), int(spec.type)),
        "key_size": (existing.key_size, spec.key_size),
        "value_size": (existing.value_size, spec.value_size),
        "max_entries": (existing.max_entries, spec.max_entries),
    }
    return ", ".join(
        f"{k} is {have}, spec says {want}" for k, (have, want) in wanted.items() if have != want and want
    )


class Collection:
    """Loaded maps and programs, by their names in the object; a context manager.

    Attributes:
        maps: live maps (``collection.maps["counters"][1]``).
        programs: loaded programs (``collection.programs["handle"].attach()``).
        variables: global variables of the data maps (``collection.variables["hits"].value``).
        spec: the spec it was loaded from.
    """

    def __init__(
        self,
        spec: CollectionSpec,
        maps: dict[str, Map],
        programs: dict[str, Program],
        btf: FD | None,
        struct_ops: Mapping[str, KernelStructOps] | None = None,
    ) -> None:
        """Take ownership of loaded objects; use [`load()`][ebpf.elf.Collection.load] instead."""
        self.spec = spec
        self.maps = maps
        self.programs = programs
        self._btf = btf
        self._struct_ops = dict(struct_ops or {})
        self.variables = {
            name: Variable(var, maps[var.map]) for name, var in spec.variables.items() if var.map in maps
        }

    @classmethod
    def load(
        cls,
        spec: CollectionSpec,
        *,
        replace_maps: Mapping[str, Map] | None = None,
        pin_root: str | os.PathLike[str] = DEFAULT_PIN_ROOT,
        log_level: int = 0,
    ) -> Collection:
        """Create the maps and load the programs of ``spec``.

        Args:
            spec: what to load (not modified); its data maps are created
                holding the values of its variables.
            replace_maps: existing maps to use instead of creating the spec's
                (a pinned map shared with another process...); the collection
                uses a duplicate descriptor, so the caller keeps its own map.
            pin_root: the directory of maps pinned ``BY_NAME`` (a bpffs directory).
            log_level: verifier log level for every program (the log is kept
                in ``program.verifier_log``); failures always carry the log.

        Raises:
            ValueError: a replacement map that does not match its spec, or a
                replacement for a map the spec does not have; a map left
                unsized (``max_entries`` 0...) or a program left without a
                type (a section libbpf does not know): the message names it
                and how to set it. Nothing is created then.
            ProgramVerifierError: the verifier rejected a program.
            NotSupportedError: the kernel lacks a map type, BTF, CO-RE target
                types, or a kernel symbol or config option an extern needs.
            BpfSyscallError: other kernel errors.
        """
        replacements = dict(replace_maps or {})
        unknown = sorted(set(replacements) - set(spec.maps))
        if unknown:
            raise ValueError(
                f"replace_maps names maps the spec does not have: {unknown}; it has {sorted(spec.maps)}"
            )
        _check_loadable(spec, replacements)
        struct_ops = prepare_struct_ops(spec.struct_ops, spec.maps, spec.programs)
        with contextlib.ExitStack() as stack:
            # like libbpf, the object's BTF is loaded for the maps too: an object may hold maps only
            btf_fd = (
                stack.enter_context(load_btf(spec.btf))
                if spec.btf is not None and _needs_btf(spec, replacements)
                else None
            )
            maps = _create_maps(spec, replacements, Path(pin_root), btf_fd, stack, struct_ops)
            programs = _load_programs(spec, maps, btf_fd, log_level, stack, struct_ops)
            _fill_map_values(spec, maps, programs)
            collection = cls(spec, maps, programs, btf_fd, struct_ops.layouts)
            stack.pop_all()
        return collection

    def attach_all(self) -> Links:
        """Attach every loaded program by its section, as a libbpf skeleton's ``attach()`` does.

        Kprobes, uprobes (``uprobe/<binary>:<function>[+<offset>]``, the binary
        found as the dynamic loader would), USDT probes
        (``usdt/<binary>:<provider>:<name>``, every process), ksyscalls, tracepoints, raw
        tracepoints and the BTF-based types (fentry/fexit/fmod_ret, tp_btf,
        LSM, iterators) are attached; programs of other sections, or whose
        section names no attach point (``SEC("tp")``), are skipped and
        listed in ``links.skipped``, as libbpf skips them. The links close
        together: ``with coll.attach_all(): ...``.

        Raises:
            ValueError: a uprobe section without ``:function``, a USDT section
                without ``:<provider>:<name>``.
            LibraryLimitError: a section libbpf attaches and this library cannot yet
                (uprobe.multi); nothing is attached then.
            BpfSyscallError, ValueError: what attaching a program raised;
                the programs attached before it are detached first.
        """
        return attach_all(self.programs, self.spec.sections, self.maps)

    def attach_usdt(
        self,
        program: str,
        target: str | os.PathLike[str] | int,
        provider: str,
        name: str,
        *,
        pid: int | None = None,
        cookie: int = 0,
        use_cookies: bool | None = None,
    ) -> UsdtLink:
        """Attach program ``program`` to USDT probe ``provider:name`` of ``target`` (a binary or a pid).

        [`attach_usdt()`][ebpf.elf.attach_usdt] with this collection's
        ``__bpf_usdt_specs`` and ``__bpf_usdt_ip_to_spec_id`` maps; the
        attachments of all its programs share them (spec ids are allocated
        per object, as libbpf does).

        Raises:
            KeyError: no loaded program ``program``.
            Exception: what [`attach_usdt()`][ebpf.elf.attach_usdt] raises
                (``ValueError`` for a probe the target does not have...).
        """
        if program not in self.programs:
            raise KeyError(f"no loaded program {program!r} in the collection; it has {sorted(self.programs)}")
        from ._usdt_attach import attach_usdt  # here: loading needs no USDT note parsing

        return attach_usdt(
            self.programs[program],
            target,
            provider,
            name,
            pid=pid,
            cookie=cookie,
            maps=self.maps,
            use_cookies=use_cookies,
        )

    def attach_struct_ops(self, name: str) -> Link:
        """Register struct_ops map ``name`` (``SEC(".struct_ops")`` or ``SEC(".struct_ops.link")``).

        Writes the map's element, the kernel's struct with the loaded
        programs' descriptors at their members, and registers it: through a
        bpf_link for ``.struct_ops.link``, by the write itself for
        ``.struct_ops`` (libbpf's ``bpf_map__attach_struct_ops``). Closing
        the link unregisters the ops; see
        [`ebpf.progs.attach_struct_ops()`][ebpf.progs.attach_struct_ops]. A
        member whose program was not loaded (deleted from the spec, turned
        off) stays NULL.

        Raises:
            KeyError: no struct_ops map ``name``.
            ValueError: a member's program was closed, or a ``.struct_ops``
                map that was registered before.
            NotSupportedError: ``.struct_ops.link`` on a kernel without
                struct_ops links (6.4).
            BpfSyscallError: the kernel refused the ops (``EEXIST``: ops of
                that name are registered already; ``EINVAL``: a mandatory
                member is missing).
        """
        layout = self._struct_ops.get(name)
        if layout is None:
            raise KeyError(
                f"no struct_ops map {name!r} in the collection; it has {sorted(self._struct_ops) or 'none'}"
            )
        fds = {
            program: self.programs[program].fileno()
            for program in layout.slots.values()
            if program in self.programs
        }
        try:
            return attach_struct_ops(self.maps[name], layout.value_with(fds))
        except BpfSyscallError as exc:
            if exc.errno == errno.EBUSY and not self.spec.struct_ops[name].link:
                raise ValueError(
                    f"struct_ops map {name!r} was registered before: a .struct_ops map registers once "
                    "(load the collection again)"
                ) from exc
            raise

    def close(self) -> None:
        """Close every program and map (attached programs stay attached while their links live)."""
        for program in self.programs.values():
            program.close()
        for live in self.maps.values():
            live.close()
        if self._btf is not None:
            self._btf.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Collection(programs={sorted(self.programs)}, maps={sorted(self.maps)})"


_SIZE_HINTS: tuple[tuple[Literal["max_entries", "value_size", "key_size"], str], ...] = (
    ("max_entries", "spec.resize_map({name!r}, n)"),
    ("value_size", "spec.set_value_size({name!r}, n)"),
    ("key_size", "spec.maps[{name!r}] = dataclasses.replace(spec.maps[{name!r}], key_size=n)"),
)


def _check_loadable(spec: CollectionSpec, replacements: Mapping[str, Map]) -> None:
    """Refuse, before any system call, maps left unsized and programs left without a type.

    Raises:
        ValueError: naming the map or program and how to set what is missing.
    """
    for name, map_spec in spec.maps.items():
        if name in replacements:
            continue
        for field, hint in _SIZE_HINTS:
            try:
                map_spec.check(field)
                if map_spec.inner_map is not None:
                    map_spec.inner_map.check(field)
            except ValueError as exc:
                raise ValueError(
                    f"map {name!r} cannot be created as the object declares it: {exc}; it is sized by "
                    f"user space: set its {field} before loading with {hint.format(name=name)}"
                ) from None
    for name, program in spec.programs.items():
        if program.type == ProgType.UNSPEC and spec.autoload(name):
            section = spec.sections.get(name, "?")
            raise ValueError(
                f"program {name!r} has no program type: libbpf knows no type for its section "
                f"{section!r}; set one before loading with spec.set_program_type({name!r}, ProgType.<TYPE>) "
                f"or leave it out with spec.set_autoload({name!r}, False)"
            )


def _needs_btf(spec: CollectionSpec, replacements: Mapping[str, Map]) -> bool:
    """Whether a program to load or a map to create uses the object's BTF."""
    return (
        any(spec.autoload(name) for name in spec.programs)
        or any(name not in replacements for name in spec.struct_ops)  # the kernel needs it for them
        or any(
            m.btf_key_type_id or m.btf_value_type_id
            for name, m in spec.maps.items()
            if name not in replacements
        )
    )


def _create_one(spec: MapSpec, btf: FD | None, pin_root: Path) -> Map:
    """Create a map with its BTF, retrying without it like libbpf when the kernel refuses the types."""
    if btf is None and (spec.btf_key_type_id or spec.btf_value_type_id):
        spec = replace(spec, btf_key_type_id=0, btf_value_type_id=0)  # the object has no BTF to load
    if spec.btf_vmlinux_value_type_id:  # struct_ops: the kernel wants the object's BTF, and no retry helps
        return Map.create(spec, btf=btf, pin_root=pin_root)
    uses_btf = btf is not None and (spec.btf_key_type_id or spec.btf_value_type_id)
    try:
        return Map.create(spec, btf=btf if uses_btf else None, pin_root=pin_root)
    except BpfSyscallError as exc:
        if not uses_btf or exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
        logger.debug("map %r: retrying without BTF after %s", spec.name, exc)
        return Map.create(replace(spec, btf_key_type_id=0, btf_value_type_id=0), pin_root=pin_root)


def _create_maps(
    spec: CollectionSpec,
    replacements: Mapping[str, Map],
    pin_root: Path,
    btf: FD | None,
    stack: contextlib.ExitStack,
    struct_ops: StructOpsLoad,
) -> dict[str, Map]:
    maps: dict[str, Map] = {}
    for name, map_spec in spec.maps_with_variables().items():  # data maps hold the variables' values
        existing = replacements.get(name)
        if existing is not None:
            problem = _compatible(existing, map_spec)
            if problem:
                raise ValueError(f"replacement for map {name!r} does not match the spec: {problem}")
            maps[name] = stack.enter_context(existing.dup())
            continue
        wanted = map_spec
        if name in struct_ops.layouts:  # the kernel's value type, size and layout
            wanted = struct_ops.layouts[name].map_spec(map_spec)
        if name == KCONFIG and spec._kconfig is not None and spec.btf is not None:
            wanted = replace(map_spec, contents=((0, resolve_kconfig(spec.btf, spec._kconfig)),))
        pin = pin_root / wanted.name if wanted.pinning is PinType.BY_NAME else None
        new_pin = pin is not None and not pin.exists()
        created = stack.enter_context(_create_one(wanted, btf, pin_root))
        if new_pin:
            stack.callback(created.unpin)  # runs before close(): a failed load leaves no pin behind
        maps[name] = created
    return maps


def _load_programs(
    spec: CollectionSpec,
    maps: Mapping[str, Map],
    btf: FD | None,
    log_level: int,
    stack: contextlib.ExitStack,
    struct_ops: StructOpsLoad,
) -> dict[str, Program]:
    fds = {name: live.fileno() for name, live in maps.items()}
    relocations = CoreRelocations(spec.btf)  # one relocator for the whole load
    programs: dict[str, Program] = {}
    # the module BTF descriptors of kfuncs and ksyms are needed until the programs are loaded
    with resolve_ksyms(spec._ksyms, spec.btf) as ksyms:
        for name, program_spec in spec.programs.items():
            if not spec.autoload(name) or name in struct_ops.unused:
                # turned off (set_autoload, SEC("?...")), or no struct_ops map uses it: libbpf skips it too
                continue
            refs = spec._references.get(name, {})
            code = apply_references(program_spec.instructions, refs, fds, ksyms, name)
            code = relocations.apply(code, spec._core_relos.get(name, []), name)
            attach_to = struct_ops.targets.get(name, program_spec.attach_to)  # "<struct>:<member>"
            loaded = replace(program_spec, instructions=code, attach_to=attach_to)
            programs[name] = stack.enter_context(
                Program.load(
                    loaded,
                    btf=btf if loaded.btf is not None else None,
                    log_level=log_level,
                    fd_array=ksyms.fd_array,
                )
            )
    return programs


def _fill_map_values(spec: CollectionSpec, maps: Mapping[str, Map], programs: Mapping[str, Program]) -> None:
    """Write the initial program array and map-in-map slots (``values = {...}`` in C)."""
    for map_name, slots in spec.map_values.items():
        target = maps.get(map_name)
        if not isinstance(target, DescriptorMap):
            continue  # removed from the spec, or replaced by the caller's map
        for slot, name in slots.items():
            source: Map | Program | None = programs.get(name) if name in spec.programs else maps.get(name)
            if source is None:
                continue  # a program removed from the spec: leave the slot empty
            target[slot] = source
