"""``Map``: a live map that owns its descriptor; creating, opening, pinning, freezing, closing.

Lifecycle: [`Map.create()`][ebpf.maps.Map.create] (from a [`MapSpec`][ebpf.maps.MapSpec]),
[`Map.from_pin()`][ebpf.maps.Map.from_pin], [`Map.from_id()`][ebpf.maps.Map.from_id] or
[`Map.from_fd()`][ebpf.maps.Map.from_fd] give a map object of the class
that fits the map's type ([`KeyValueMap`][ebpf.maps.KeyValueMap] for a hash map...).
It owns one descriptor, closed by [`Map.close()`][ebpf.maps.Map.close], by leaving a ``with``
block, or, as a backstop, when the object is garbage-collected. The kernel
object lives on while a pin, a program or another descriptor refers to it.

Threads: a map object may be shared by threads. Single-element operations
take buffers of their own from the map's pool (`ebpf.maps._elements`), with
no lock; every other operation holds the object's lock while it uses the
object's buffers and descriptor (the system call included: ctypes releases
the GIL during it), so concurrent operations give the result of some serial
order. ``close()`` waits for an operation in flight instead of releasing a
descriptor number the kernel could give to the next object created: the
operation finishes, and the next one raises the "closed" ``ValueError``.
Long operations (a whole-map batch) hold the lock for their duration;
iteration takes it once per chunk.
"""

from __future__ import annotations

import errno
import logging
import os
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, TypeVar

from ebpf.syscall import commands
from ebpf.syscall.abi import MapType
from ebpf.syscall.errors import BpfSyscallError, syscall_error
from ebpf.syscall.fd import FD, HasFileno
from ebpf.syscall.flags import FileFlags
from ebpf.syscall.maptypes import map_type_rule
from ebpf.syscall.objects import MapInfo, describe_fd, get_map_info, object_kind
from ebpf.syscall.system import possible_cpus

from ._codecs import CodecSource
from ._not_supported import map_type_name, not_supported_error
from ._spec import _KNOWN_MAP_FLAGS, MapSpec, PinType

__all__ = ["DEFAULT_PIN_ROOT", "Map"]

log = logging.getLogger("ebpf.maps")

M = TypeVar("M", bound="Map")

#: Where ``PinType.BY_NAME`` pins unless told otherwise.
DEFAULT_PIN_ROOT = Path("/sys/fs/bpf")


class Map:
    """A live BPF map. Subclasses add the element operations of each map type.

    Attributes (fixed at creation, as the kernel reports them):
        spec: the [`MapSpec`][ebpf.maps.MapSpec] this map was made from (rebuilt from the
            kernel's info for opened maps).
        id, name, type, key_size, value_size, max_entries, flags.
        key_codec, value_codec: how keys and values are converted.
    """

    _classes: ClassVar[dict[int, type[Map]]] = {}

    def __init_subclass__(cls, *, map_types: tuple[MapType, ...] = (), **kwargs: Any) -> None:
        """Register ``cls`` as the class for ``map_types``."""
        super().__init_subclass__(**kwargs)
        for map_type in map_types:
            Map._classes[int(map_type)] = cls

    def __init__(self, fd: FD, spec: MapSpec, info: MapInfo) -> None:
        """Wrap ``fd``, taking ownership; use [`create()`][ebpf.maps.Map.create] or the ``from_*`` methods
        instead."""
        self._fd = fd
        self._closed = False
        # Held by every operation that uses the descriptor or the buffers (see the module docstring):
        # the descriptor's own lock, which its close() takes too.
        self._lock = fd.lock
        self._pinned: Path | None = None
        self.spec = spec
        self.id = info.id
        self.name = info.name
        self.type = info.type
        self.key_size = info.key_size
        self.value_size = info.value_size
        self.max_entries = info.max_entries
        self.flags = info.flags
        self.key_codec = spec.key_codec
        self.value_codec = spec.value_codec
        self._setup()

    def _setup(self) -> None:
        """Allocate what element operations reuse (buffers, attrs); subclasses extend it."""

    # ------------------------------------------------------------ creating

    @staticmethod
    def class_for(map_type: MapType | int) -> type[Map]:
        """The class of live objects for ``map_type`` ([`Map`][ebpf.maps.Map] for types without element
        access)."""
        return Map._classes.get(int(map_type), Map)

    @classmethod
    def _check_class(cls, map_type: MapType | int) -> type[Map]:
        target = Map.class_for(map_type)
        if not issubclass(target, cls):
            raise TypeError(
                f"{map_type_name(map_type)} maps are {target.__name__} objects, not {cls.__name__}: "
                f"use {target.__name__} or Map"
            )
        return target

    @classmethod
    def create(
        cls: type[M],
        spec: MapSpec,
        *,
        btf: int | HasFileno | None = None,
        pin_root: str | os.PathLike[str] = DEFAULT_PIN_ROOT,
    ) -> M:
        """Create the map ``spec`` describes (or reuse its pin, with ``PinType.BY_NAME``).

        Called on [`Map`][ebpf.maps.Map] it returns the class that fits ``spec.type``;
        called on a subclass it also checks that the type fits that class.
        ``btf`` is the BTF object ``spec.btf_*_type_id`` refer to. With
        ``PinType.BY_NAME`` the map is pinned at ``pin_root/name``, and a
        map already pinned there is opened instead when it matches the spec.
        Initial ``contents`` are written, then the map is frozen if
        ``spec.freeze``. If any step fails, nothing is left created or pinned.

        Raises:
            TypeError: ``spec`` is not a MapSpec, or its type does not fit ``cls``.
            ValueError: sizes the map type refuses (a spec built with
                ``check_sizes=False`` that was never sized, see
                [`MapSpec.check()`][ebpf.maps.MapSpec.check]), or the pinned map at
                ``pin_root/name`` does not match ``spec``.
            NotSupportedError: the kernel lacks the map type.
            BpfSyscallError: the kernel refused (``EINVAL`` for parameters, ``EPERM``...).
        """
        if not isinstance(spec, MapSpec):
            raise TypeError(f"create() takes a MapSpec, not {type(spec).__name__}")
        if not spec.check_sizes:
            try:
                spec.check()
            except ValueError as exc:
                raise ValueError(f"cannot create map {spec.name or '(unnamed)'!r}: {exc}") from None
        target = cls._check_class(spec.type)
        pin_path = Path(pin_root) / spec.name if spec.pinning is PinType.BY_NAME else None
        if pin_path is not None and pin_path.exists():
            existing = target._open(commands.obj_get(pin_path), spec)
            problem = existing._mismatch(spec)
            if problem:
                existing.close()
                raise ValueError(f"the map pinned at {pin_path} does not match the spec: {problem}")
            existing._pinned = pin_path
            return existing  # type: ignore[return-value]
        with ExitStack() as stack:
            fd = stack.enter_context(_create_fd(spec, btf))
            new = target(fd, spec, get_map_info(fd))
            stack.callback(new.close)
            if spec.contents:
                new._write_contents(spec.contents)
            if spec.freeze:
                new.freeze()
            if pin_path is not None:
                new.pin(pin_path)
            stack.pop_all()
        return new  # type: ignore[return-value]

    def _mismatch(self, spec: MapSpec) -> str:
        """What differs between this map and ``spec`` ("" when compatible)."""
        expected_max = spec.max_entries
        if spec.type == MapType.PERF_EVENT_ARRAY and expected_max == 0:
            expected_max = possible_cpus()
        wanted = {
            "type": (int(self.type), int(spec.type)),
            "key_size": (self.key_size, spec.key_size),
            "value_size": (self.value_size, spec.value_size),
            "max_entries": (self.max_entries, expected_max),
            "flags": (self.flags, spec.create_flags),
        }
        return ", ".join(
            f"{k} is {have}, spec says {want}" for k, (have, want) in wanted.items() if have != want
        )

    def _write_contents(self, contents: tuple[tuple[Any, Any], ...]) -> None:
        raise TypeError(f"{map_type_name(self.type)} maps cannot be given contents")

    # ------------------------------------------------------------ opening

    @classmethod
    def _open(
        cls: type[M],
        fd: FD,
        spec: MapSpec | None = None,
        key: CodecSource | None = None,
        value: CodecSource | None = None,
    ) -> M:
        """Wrap an opened descriptor, reading type and sizes from the kernel; closes ``fd`` on failure."""
        with ExitStack() as stack:
            stack.callback(fd.close)
            info = get_map_info(fd)
            target = cls._check_class(info.type)
            if spec is None or (key is not None or value is not None):
                spec = MapSpec(
                    type=info.type,
                    name=info.name,
                    key=key if key is not None else (spec.key if spec else None),
                    value=value if value is not None else (spec.value if spec else None),
                    key_size=info.key_size,
                    value_size=info.value_size,
                    max_entries=info.max_entries,
                    # a kernel newer than our tables may report flags we do not know: keep ours
                    flags=info.flags & ~map_type_rule(info.type).flags & _KNOWN_MAP_FLAGS,
                    map_extra=info.map_extra,
                    btf_key_type_id=info.btf_key_type_id,
                    btf_value_type_id=info.btf_value_type_id,
                    btf_vmlinux_value_type_id=info.btf_vmlinux_value_type_id,
                    inner_map=None,
                )
            obj = target(fd, spec, info)
            stack.pop_all()
        return obj  # type: ignore[return-value]

    @classmethod
    def from_fd(
        cls: type[M], fd: int | FD, *, key: CodecSource | None = None, value: CodecSource | None = None
    ) -> M:
        """Take ownership of a map descriptor (int or [`FD`][ebpf.syscall.FD]), reading type and sizes from
        the kernel.

        Raises:
            TypeError: ``fd`` is neither, is not a map (the message says what it
                is; the descriptor is closed all the same), or the map's type
                does not fit ``cls``.
            ValueError: ``fd`` is not an open descriptor (nothing is taken), or a
                codec's size differs from the kernel's key or value size.
        """
        if isinstance(fd, bool) or not isinstance(fd, int | FD):
            raise TypeError(f"from_fd() takes an int or an FD, not {type(fd).__name__}")
        object_kind(fd)  # ValueError for a number that is not open, before taking ownership of it
        owned = fd if isinstance(fd, FD) else FD(fd)
        return cls._open(owned, None, key, value)

    @classmethod
    def from_pin(
        cls: type[M],
        path: str | os.PathLike[str],
        *,
        key: CodecSource | None = None,
        value: CodecSource | None = None,
        readonly: bool = False,
    ) -> M:
        """Open the map pinned at ``path`` (in this or another process).

        Raises:
            TypeError: what is pinned there is not a map (the message says
                what it is), or the map's type does not fit ``cls``.
            ValueError: a codec's size differs from the map's.
            BpfSyscallError: no such pin (``ENOENT``), or ``path`` is not on bpffs.
        """
        flags = FileFlags.RDONLY if readonly else 0
        fd = commands.obj_get(path, flags)
        if object_kind(fd) != "map":
            what = describe_fd(fd)
            fd.close()
            raise TypeError(f"{os.fspath(path)!r} is {what}, not a pinned map")
        return cls._open(fd, None, key, value)

    @classmethod
    def from_id(
        cls: type[M], map_id: int, *, key: CodecSource | None = None, value: CodecSource | None = None
    ) -> M:
        """Open a map by its kernel id (``bpftool map list`` shows them; needs ``CAP_SYS_ADMIN``).

        Raises:
            BpfSyscallError: no such map (``ENOENT``).
        """
        if isinstance(map_id, bool) or not isinstance(map_id, int) or map_id <= 0:
            raise ValueError(f"a map id is an int >= 1, not {map_id!r}")
        return cls._open(commands.map_get_fd_by_id(map_id), None, key, value)

    def dup(self: M) -> M:
        """Another object for the same map, on a duplicated descriptor (e.g. one per thread)."""
        with self._lock:
            return type(self)._open(self._fd_checked().dup(), self.spec)

    # ------------------------------------------------------------ the object

    def _fd_checked(self) -> FD:
        if self._closed:
            raise self._closed_error()
        return self._fd

    def _closed_error(self) -> ValueError:
        return ValueError(f"map {self.name or map_type_name(self.type)!r} is closed")

    def fileno(self) -> int:
        """The map's descriptor (for ``ld_imm64`` map references, ``prog_bind_map``...).

        Raises:
            ValueError: the map is closed.
        """
        return self._fd_checked().fileno()

    @property
    def closed(self) -> bool:
        """Whether [`close()`][ebpf.maps.Map.close] was called."""
        return self._closed

    def info(self) -> MapInfo:
        """What the kernel reports about the map now (id, type, sizes, flags, BTF ids)."""
        with self._lock:
            return get_map_info(self._fd_checked())

    @property
    def pinned_path(self) -> Path | None:
        """Where [`pin()`][ebpf.maps.Map.pin] (or ``BY_NAME`` pinning) pinned this map, if it did."""
        return self._pinned

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin the map at ``path`` on a bpffs mount, so that it outlives this process.

        Raises:
            ValueError: the map is closed.
            BpfSyscallError: ``EEXIST`` when ``path`` exists, ``EPERM`` when it is not on bpffs.
        """
        with self._lock:
            commands.obj_pin(self._fd_checked(), path)
            self._pinned = Path(path)

    def unpin(self) -> None:
        """Remove the pin made by [`pin()`][ebpf.maps.Map.pin]; the map lives on while this object holds it.

        Raises:
            ValueError: the map was not pinned through this object.
        """
        if self._pinned is None:
            raise ValueError(
                f"map {self.name!r} was not pinned by this object; remove a pin with os.unlink(path)"
            )
        path, self._pinned = self._pinned, None
        try:
            path.unlink()
        except FileNotFoundError:
            log.debug("pin %s was already removed", path)

    def freeze(self) -> None:
        """Make the map read-only for user space from now on (programs may still write it).

        Raises:
            BpfSyscallError: ``EBUSY`` while a writable mmap exists, ``EINVAL`` for types that cannot freeze.
        """
        with self._lock:
            commands.map_freeze(self._fd_checked())

    def close(self) -> None:
        """Release the descriptor (and any memory mapping); a second call does nothing.

        An operation another thread has in flight finishes first; later ones
        raise the "closed" ``ValueError``.
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                self._release()
                self._fd.close()

    def _release(self) -> None:
        """Release what `_setup()` holds besides the descriptor; subclasses extend it."""

    def __enter__(self: M) -> M:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._fd.fileno()}"
        return (
            f"{type(self).__name__}(name={self.name!r}, type={map_type_name(self.type)}, "
            f"key={self.key_codec.describe()}, value={self.value_codec.describe()}, "
            f"max_entries={self.max_entries}, {state})"
        )

    # ------------------------------------------------------------ errors

    def _error(self, err: int, command: str, doing: str, key: object = None) -> BpfSyscallError | ValueError:
        """The exception for a failed element command, naming the map and the key; the "closed"
        ``ValueError`` when the map was closed (element commands then name no descriptor).

        The errno is mapped by [`syscall_error()`][ebpf.syscall.errors.syscall_error]; a full
        map (``E2BIG`` on an update) is explained with the map's capacity.
        """
        if self._closed:
            return self._closed_error()
        name = self.name or map_type_name(self.type)
        what = f"{doing} map {name!r}" if key is None else f"{doing} {key!r} in map {name!r}"
        hint = ""
        if err == errno.E2BIG and command.startswith("BPF_MAP_UPDATE"):
            hint = f"the map is full (max_entries={self.max_entries})"
        return syscall_error(err, command, what, hint)


def _create_fd(spec: MapSpec, btf: int | HasFileno | None) -> FD:
    """``BPF_MAP_CREATE`` for ``spec``, translating "no such map type" into NotSupportedError."""
    rule = map_type_rule(spec.type)
    if rule.inner_map and spec.inner_map is None:
        raise ValueError(f"{map_type_name(spec.type)} maps need inner_map=MapSpec(...) to be created")
    max_entries = spec.max_entries
    if rule.max_entries == "cpus" and max_entries == 0:
        max_entries = possible_cpus()  # one perf ring per CPU, as libbpf does
    assert spec.key_size is not None  # resolved by MapSpec
    assert spec.value_size is not None
    with ExitStack() as stack:
        inner = stack.enter_context(Map.create(spec.inner_map)) if spec.inner_map is not None else None
        try:
            return commands.map_create(
                spec.type,
                spec.key_size,
                spec.value_size,
                max_entries,
                flags=spec.create_flags,
                name=spec.name,
                inner_map_fd=inner,
                numa_node=spec.numa_node or 0,
                btf_fd=btf,
                btf_key_type_id=spec.btf_key_type_id,
                btf_value_type_id=spec.btf_value_type_id,
                btf_vmlinux_value_type_id=spec.btf_vmlinux_value_type_id,
                map_extra=spec.map_extra,
            )
        except BpfSyscallError as exc:
            missing = not_supported_error(spec.type, exc)
            if missing is not None:
                raise missing from exc
            raise
