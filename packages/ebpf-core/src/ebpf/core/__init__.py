"""ebpf.core: the whole toolkit behind one import, the ``ebpf`` command, and a catalogue of examples.

::

    import ebpf.core as bpf
    from ebpf.asm import R0, exit_, mov

    info = bpf.init()  # kernel version, bpffs, capabilities, features
    with bpf.hash_map("u32", "u64", name="counts") as counts:
        counts[1] = 10
        print(counts.dump())
    with bpf.load_program([mov(R0, bpf.XdpAction.DROP), exit_()], "xdp") as prog:
        print(prog.test_run(bytes(64)).retval)  # 1

What is here:

- system: [`init()`][ebpf.core.init] ([`SystemInfo`][ebpf.core.SystemInfo]), ``kernel_version``;
- maps: [`create_map()`][ebpf.core.create_map] for any type (by enum or name: ``"lru_hash"``,
  ``"lpm_trie"``...), constructors for the common ones ([`hash_map()`][ebpf.core.hash_map],
  [`array_map()`][ebpf.core.array_map], [`percpu_array_map()`][ebpf.core.percpu_array_map],
  [`queue_map()`][ebpf.core.queue_map], [`ringbuf_map()`][ebpf.core.ringbuf_map],
  [`perf_event_array()`][ebpf.core.perf_event_array]), [`map_spec()`][ebpf.core.map_spec],
  [`open_map()`][ebpf.core.open_map]; operations are the maps' methods (``m[k] = v``,
  ``m.lookup(k)``, ``m.items()``, ``m.update_batch(...)``, ``q.pop()``, ``m.dump()``), and
  ``percpu_sum``... add up per-CPU values;
- programs: [`load_program()`][ebpf.core.load_program] (from ``ebpf.asm`` instructions, bytes or a
  spec), [`attach()`][ebpf.core.attach] (the attach dispatcher of ``ebpf.progs``) and every
  ``attach_*`` function, [`pin()`][ebpf.core.pin], [`unpin()`][ebpf.core.unpin],
  [`open_pinned()`][ebpf.core.open_pinned], [`open_program()`][ebpf.core.open_program];
- events: [`ring_buffer()`][ebpf.core.ring_buffer], [`perf_buffer()`][ebpf.core.perf_buffer],
  [`process_events()`][ebpf.core.process_events] (readers of ``ebpf.events``);
- object files: [`load_object()`][ebpf.core.load_object], [`inspect_object()`][ebpf.core.inspect_object],
  [`attach_uprobe_symbol()`][ebpf.core.attach_uprobe_symbol] (``ebpf.elf``); XDP and TC: ``attach_xdp``,
  ``attach_tc`` (``ebpf.net``);
- BTF: [`kernel_btf()`][ebpf.core.kernel_btf], [`find_type()`][ebpf.core.find_type],
  [`field_offset()`][ebpf.core.field_offset], [`type_size()`][ebpf.core.type_size], ``BtfCodec`` (values by
  their BTF type), ``dump_c``, ``dump_raw``;
- the classes, enums and errors of every package (``Map``, ``Program``,
  ``Link``, ``MapType``, ``XdpAction``, ``EbpfError``, ``VerifierError``...).

The functions of the other packages are theirs, re-exported (``bpf.attach_uprobe_symbol``
is ``ebpf.elf.attach_uprobe_symbol``). Every live object is a context manager that
releases its descriptor. Importing this module imports none of the other packages:
each name is imported on first use, so ``import ebpf.core`` costs about a millisecond.
Which name comes from where is one table, ``ebpf/core/_exports.py``: ``__all__``, the
lazy imports and the type checkers' view (``__init__.pyi``) are derived from it.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._exports import LAZY

# Name -> the module it is imported from on first use (PEP 562).
_LAZY: dict[str, str] = dict(LAZY)

__all__ = sorted(_LAZY)  # noqa: PLE0605  (a list derived from the table; __init__.pyi spells it out)


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use.

    Raises:
        AttributeError: ``name`` is not a name of the facade.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ebpf.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
