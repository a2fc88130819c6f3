"""A human-readable summary of a [`CollectionSpec`][ebpf.elf.CollectionSpec]: programs, maps, variables,
license."""

from __future__ import annotations

from ebpf.syscall.abi import MapType

from ._spec import CollectionSpec

__all__ = ["inspect"]


def _map_type(value: int) -> str:
    try:
        return MapType(value).name.lower()
    except ValueError:
        return str(value)


def inspect(spec: CollectionSpec) -> str:
    """Describe ``spec`` in a few aligned lines per kind of object (like ``bpftool``'s listings).

    Examples:
        >>> print(inspect(CollectionSpec.from_file("minimal.bpf.o")))  # doctest: +SKIP
        programs:
          handle_tp  tracepoint  syscalls/sys_enter_write  12 insns  (section tp/syscalls/sys_enter_write)
        maps:
          .rodata    array  key 4  value 4  max 1  flags 0x480
        license: Dual BSD/GPL
    """
    lines = ["programs:"]
    for name, program in sorted(spec.programs.items()):
        attach = (
            program.expected_attach_type.name.lower() if program.expected_attach_type is not None else "-"
        )
        off = "" if spec.autoload(name) else "  autoload off"
        lines.append(
            f"  {name}  {program.type.name.lower()}  attach {attach}  target {program.attach_to or '-'}  "
            f"{program.instruction_count} insns  (section {spec.sections.get(name, '?')}){off}"
        )
    lines.append("maps:")
    for name, m in sorted(spec.maps.items()):
        extra = "  pinned by name" if m.pinning.value != "none" else ""
        inner = f"  inner {_map_type(m.inner_map.type)}" if m.inner_map is not None else ""
        lines.append(
            f"  {name}  {_map_type(m.type)}  key {m.key_size}  value {m.value_size}  "
            f"max {m.max_entries}  flags {int(m.flags):#x}{inner}{extra}"
        )
    if spec.variables:
        lines.append("variables:")
        for name, var in sorted(spec.variables.items()):
            lines.append(f"  {name}  {var.map}+{var.offset}  {var.size} bytes  = {var.get()!r}")
    lines.append(f"license: {spec.license or '-'}")
    if spec.kernel_version:
        lines.append(f"kernel version: {spec.kernel_version:#x}")
    return "\n".join(lines)
