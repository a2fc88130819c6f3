"""What each section of a BPF object file is for, decided the way libbpf's ``bpf_object__elf_collect`` does.

- code: executable sections; ``.text`` holds subprograms (and libbpf
  conventions put no program there), every other one programs named by
  its ``SEC()`` name;
- ``.maps`` (BTF-defined maps) and ``maps`` (legacy ``struct bpf_map_def``);
- global data: ``.data``, ``.rodata``, ``.bss`` and their named variants
  ``.data.*``, ``.rodata.*``, ``.bss.*``: each becomes an array map;
- ``license`` (a NUL-terminated string) and ``version`` (a u32);
- ``.BTF`` and ``.BTF.ext``;
- ``.rel<name>``: the relocations of section ``<name>`` (``sh_info``);
- everything else (DWARF, ``.llvm_addrsig``...) is ignored.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ebpf.syscall.errors import ParseError

from ._elf import ElfFile, ElfSection, SectionFlags, SectionType

__all__ = ["DATA_PREFIXES", "ObjectSections", "classify_sections"]

#: The prefixes of global data sections (libbpf's ``is_sec_name_dwarf``/``sec_name_is_data``...).
DATA_PREFIXES = (".data", ".rodata", ".bss")
_DWARF_PREFIX = ".debug_"


@dataclass
class ObjectSections:
    """The sections of a BPF object, by purpose."""

    code: dict[int, ElfSection] = field(default_factory=dict)
    data: dict[int, ElfSection] = field(default_factory=dict)
    relocations: dict[int, ElfSection] = field(default_factory=dict)
    btf_maps: ElfSection | None = None
    legacy_maps: ElfSection | None = None
    license: str = ""
    kernel_version: int = 0
    btf: bytes | None = None
    btf_ext: bytes | None = None


def _is_data(section: ElfSection) -> bool:
    return any(section.name == p or section.name.startswith(p + ".") for p in DATA_PREFIXES)


def classify_sections(elf: ElfFile) -> ObjectSections:
    """Sort the sections of ``elf`` by purpose and read the small ones (license, version).

    Raises:
        ParseError: a section lies outside the file, a ``version`` section is
            not 4 bytes, or a relocation section names no valid target.
    """
    found = ObjectSections()
    for section in elf.sections:
        name = section.name
        if section.type in (SectionType.REL, SectionType.RELA):
            target = elf.section_at(section.info, f"{section}: relocated section")
            if target.name.startswith(_DWARF_PREFIX) or target.name in (".BTF", ".BTF.ext"):
                continue  # debug info and BTF relocations: resolved by the linker, not needed here
            found.relocations[target.index] = section
        elif name == "license":
            found.license = elf.section_data(section).split(b"\0", 1)[0].decode("utf-8", "replace")
        elif name == "version":
            data = elf.section_data(section)
            if len(data) != 4:
                raise ParseError(f"{elf.name}: {section}: a kernel version is 4 bytes, not {len(data)}")
            (found.kernel_version,) = struct.unpack("<I" if elf.little_endian else ">I", data)
        elif name == ".BTF":
            found.btf = elf.section_data(section)
        elif name == ".BTF.ext":
            found.btf_ext = elf.section_data(section)
        elif name == ".maps":
            found.btf_maps = section
        elif name == "maps":
            found.legacy_maps = section
        elif (
            section.type in (SectionType.PROGBITS, SectionType.NOBITS) and section.flags & SectionFlags.ALLOC
        ):
            if section.executable:
                if section.size:
                    elf.section_data(section)  # checks that it lies inside the file
                    found.code[section.index] = section
            elif _is_data(section):
                elf.section_data(section)
                found.data[section.index] = section
    return found
