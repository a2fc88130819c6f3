"""``ebpf prog load|loadall|pin``: load a BPF object file and pin its programs, as bpftool does.

::

    ebpf prog load OBJ PATH [type TYPE] [map name NAME MAP]... [pinmaps DIR]
    ebpf prog loadall OBJ DIR [type TYPE] [map name NAME MAP]... [pinmaps DIR]
    ebpf prog pin PROG PATH

``load`` loads every program of the object and pins the first at PATH;
``loadall`` pins each at ``DIR/<name>``. ``map name NAME MAP`` uses an
existing map (``id N``, ``pinned PATH`` or ``name NAME``) instead of
creating the object's map NAME; ``pinmaps DIR`` pins the maps at
``DIR/<name>``. The words are checked before anything is loaded, and when a
step fails nothing stays loaded or pinned.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ._output import CliError
from ._words import Words, check_new_pin, check_on_bpffs

if TYPE_CHECKING:
    from ebpf.elf import Collection, CollectionSpec
    from ebpf.maps import Map

__all__ = ["cmd_prog_load", "cmd_prog_loadall", "cmd_prog_pin"]


@dataclass
class _LoadRequest:
    """What ``prog load``/``loadall`` was asked for, checked but not yet acted on."""

    obj: Path
    target: str
    prog_type: str | None = None
    replace: dict[str, int] = field(default_factory=dict)  # map name -> id of the map to use
    pinmaps: str | None = None


def _parse(words: Words) -> _LoadRequest:
    from ebpf.syscall import objects

    obj = Path(words.take("object file (OBJ)"))
    if not obj.is_file():
        raise CliError(f"{obj}: no such file")
    request = _LoadRequest(obj, words.take("pin path"))
    while words:
        word = words.take("keyword")
        if word == "type":
            request.prog_type = words.take("program type")
        elif word == "map":
            if words.take("'name' (map name NAME MAP)") != "name":
                words.usage("a map replacement is 'map name NAME MAP' (bpftool's 'map idx' is not taken)")
            name = words.take("map name")
            request.replace[name] = words.take_object("map", objects.list_maps)
        elif word == "pinmaps":
            request.pinmaps = words.take("directory to pin the maps in")
        else:
            words.usage(f"unknown word {word!r} (type, map, pinmaps)")
    return request


def _spec(request: _LoadRequest) -> CollectionSpec:
    """The object's spec with the requested program type; the replaced maps must exist in it."""
    from ebpf.elf import CollectionSpec

    spec = CollectionSpec.from_file(request.obj)
    unknown = sorted(set(request.replace) - set(spec.maps))
    if unknown:
        raise CliError(
            f"{request.obj} has no map {unknown[0]!r}; its maps: {', '.join(sorted(spec.maps)) or 'none'}"
        )
    if request.prog_type is not None:
        from ebpf.syscall import ProgType

        if request.prog_type.upper() not in ProgType.__members__ or request.prog_type.upper() == "UNSPEC":
            names = ", ".join(t.name.lower() for t in ProgType if t is not ProgType.UNSPEC)
            raise CliError(f"unknown program type {request.prog_type!r}; one of: {names}")
        for name in spec.programs:
            spec.set_program_type(name, request.prog_type)
    if not spec.programs:
        raise CliError(f"{request.obj} has no programs to load")
    return spec


def _check_dir(path: str, what: str) -> None:
    """``path`` is a directory on bpffs (made if missing), or can be made there."""
    if os.path.isdir(path):
        check_on_bpffs(path)
    elif os.path.lexists(path):
        raise CliError(f"{path} is not a directory: {what} are pinned in a directory on bpffs")
    else:
        check_new_pin(path)


class _Pinnable(Protocol):
    def pin(self, path: str | os.PathLike[str]) -> None: ...


@contextlib.contextmanager
def _loaded(request: _LoadRequest, spec: CollectionSpec) -> Iterator[Collection]:
    """The loaded collection, using the requested existing maps; closed (not unpinned) on leaving."""
    from ebpf.elf import Collection
    from ebpf.maps import Map

    with contextlib.ExitStack() as stack:
        replace: dict[str, Map] = {
            name: stack.enter_context(Map.from_id(map_id)) for name, map_id in request.replace.items()
        }
        with Collection.load(spec, replace_maps=replace) as collection:
            yield collection


def _pin_all(pins: Sequence[tuple[_Pinnable, Path]]) -> None:
    """Pin each object at its path; on failure remove the pins already made, then raise."""
    made: list[Path] = []
    try:
        for obj, path in pins:
            obj.pin(path)
            made.append(path)
    except BaseException:
        for path in made:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise


def _pin_name(name: str, live: Map) -> str:
    """The file a map is pinned as under ``pinmaps``: its name (a data section's kernel name), ``.`` as ``_``.

    bpffs refuses names with a dot, so, as libbpf does, ``.rodata`` is
    pinned as ``_rodata`` (libbpf's kernel names carry the object's name
    first: ``maps_hel_rodata``).
    """
    return (live.info().name if name.startswith(".") else name).replace(".", "_")


def _load(args: argparse.Namespace, command: str, every: bool) -> int:
    request = _parse(Words(args.words, command))
    if every:
        _check_dir(request.target, "programs")
    else:
        check_new_pin(request.target)
    if request.pinmaps is not None:
        _check_dir(request.pinmaps, "maps")
    spec = _spec(request)
    made_dirs = [
        Path(d) for d in (request.target if every else None, request.pinmaps) if d and not os.path.isdir(d)
    ]
    with _loaded(request, spec) as collection:
        programs = list(collection.programs.items())
        pins: list[tuple[_Pinnable, Path]] = (
            [(prog, Path(request.target) / name) for name, prog in programs]
            if every
            else [(programs[0][1], Path(request.target))]
        )
        if request.pinmaps is not None:
            pins += [
                (m, Path(request.pinmaps) / _pin_name(name, m))
                for name, m in collection.maps.items()
                if name not in request.replace
            ]
        for directory in made_dirs:
            directory.mkdir()
        try:
            _pin_all(pins)
        except BaseException:
            for directory in reversed(made_dirs):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise
    return 0


def cmd_prog_load(args: argparse.Namespace) -> int:
    """``prog load OBJ PATH ...``: load the object, pin its first program at PATH."""
    return _load(args, "prog load", every=False)


def cmd_prog_loadall(args: argparse.Namespace) -> int:
    """``prog loadall OBJ DIR ...``: load the object, pin every program at ``DIR/<name>``."""
    return _load(args, "prog loadall", every=True)


def cmd_prog_pin(args: argparse.Namespace) -> int:
    """``prog pin PROG PATH``: pin a loaded program."""
    from ebpf.progs import Program
    from ebpf.syscall import objects

    words = Words(args.words, "prog pin")
    prog_id = words.take_object("prog", objects.list_programs)
    path = check_new_pin(words.take("pin path"))
    words.end()
    with Program.from_id(prog_id) as program:
        program.pin(path)
    return 0
