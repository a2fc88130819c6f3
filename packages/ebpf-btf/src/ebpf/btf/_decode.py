"""The fast path: index a BTF blob in one pass, decode single records on demand.

A vmlinux BTF has ~130k type records; decoding them all through ``construct``
takes seconds. Here the header is checked, the type section is read as an
array of little-endian 32-bit words (every BTF record is a multiple of 4
bytes), and one loop records where each type starts. A type is decoded only
when asked for, straight from the words, into the public dataclasses of
`_types`. The layouts are those of `_schema`; the tests check
that both paths agree on real files.

Everything that can be wrong in the input raises ``ParseError`` with the
offset or type id: a truncated blob, bad magic or version, sections outside
the blob, an unknown kind, a record running past its section, a string
offset out of range or unterminated, a reference to a type id that does not
exist.
"""

from __future__ import annotations

import array
import itertools
import operator
import struct
import sys
from typing import TYPE_CHECKING

from ebpf.syscall.abi import FuncLinkage
from ebpf.syscall.errors import ParseError

from . import _layout as s
from ._types import (
    Array,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    EnumValue,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    IntEncoding,
    Member,
    Param,
    Pointer,
    Restrict,
    Struct,
    Type,
    Typedef,
    TypeTag,
    Union,
    Var,
    VarLinkage,
    VarSecinfo,
    Volatile,
)

if TYPE_CHECKING:
    from ._graph import TypeGraph

_HEADER = struct.Struct("<HBBIIIII")

#: words taken by a record, per ``info`` word, filled on first sight of each
#: value (a vmlinux has only a few hundred distinct ``info`` words).
_UNKNOWN_KIND_STEP = 1 << 40  # ends the walk; the check after it reports the kind


#: bytes that cannot precede a flavour separator: an underscore (four or more
#: in a row are no separator) or a NUL (the string would start with ``___``)
_NOT_NAME = frozenset(b"_\0")


def _essential_name(name: str) -> str:
    """``name`` without its CO-RE flavour (see ``_co_re_compat.essential_name``, which is this)."""
    for i in range(len(name) - 5, -1, -1):
        if name[i] != "_" and name[i + 1 : i + 4] == "___" and name[i + 4] != "_":
            return name[: i + 1]
    return name


def _record_words(info: int) -> int:
    sizes = s.TRAILER_SIZES.get(s.info_kind(info))
    if sizes is None:
        return _UNKNOWN_KIND_STEP
    fixed, each = sizes
    return (12 + fixed + each * s.info_vlen(info)) // 4


class TypeTable:
    """The indexed type and string sections of one BTF blob.

    Type ids ``first_id .. first_id + count - 1`` are this blob's; ids below
    ``first_id`` belong to ``base`` (split BTF: kernel modules, whose ids and
    string offsets continue after vmlinux's).
    """

    def __init__(self, data: bytes | memoryview, base: TypeTable | None, what: str) -> None:
        """Check the header and index every record.

        ``data`` may be a byte view of memory that stays valid for the
        life of the process (the kernel's own vmlinux BTF, mapped): its type
        section is then read in place, not copied.

        Raises:
            ParseError: the blob is malformed (says what, where and why).
        """
        self.what = what
        self.base = base
        self.data = data
        self._blob: bytes | None = data if isinstance(data, bytes) else None
        self.first_string: int = len(base.strings) + base.first_string if base is not None else 0
        self.first_id: int = base.first_id + base.count if base is not None else 1
        if len(data) < s.BTF_HEADER_SIZE:
            raise ParseError(
                f"{what}: truncated BTF: {len(data)} bytes, the header alone takes {s.BTF_HEADER_SIZE}"
            )
        magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(data)
        if magic == 0x9FEB:
            raise ParseError(f"{what}: big-endian BTF (magic 0x9feb at offset 0) is not supported")
        if magic != s.BTF_MAGIC:
            raise ParseError(f"{what}: bad BTF magic {magic:#06x} at offset 0, expected {s.BTF_MAGIC:#06x}")
        if version != s.BTF_VERSION:
            raise ParseError(
                f"{what}: unsupported BTF version {version} at offset 2, expected {s.BTF_VERSION}"
            )
        if hdr_len < s.BTF_HEADER_SIZE or hdr_len > len(data):
            raise ParseError(f"{what}: BTF header length {hdr_len} at offset 4 is outside 24..{len(data)}")
        body = len(data) - hdr_len
        for name, off, length in (("type", type_off, type_len), ("string", str_off, str_len)):
            if off + length > body:
                raise ParseError(
                    f"{what}: {name} section [{off}, {off + length}) after the {hdr_len}-byte header "
                    f"runs past the end of the {len(data)}-byte blob"
                )
        if type_off % 4 or type_len % 4:
            raise ParseError(f"{what}: type section offset {type_off} / length {type_len} not 4-byte aligned")
        self.types_start = hdr_len + type_off
        self.strings: bytes = bytes(data[hdr_len + str_off : hdr_len + str_off + str_len])
        if self.strings and self.strings[0] != 0 and base is None:
            raise ParseError(f"{what}: the string section must start with an empty string (NUL)")
        if self.strings and self.strings[-1] != 0:
            # The kernel rejects it too (btf_parse_str_sec): the last string would be unterminated.
            raise ParseError(f"{what}: the string section does not end with NUL")
        self.words: array.array[int] | memoryview
        if isinstance(data, memoryview) and sys.byteorder == "little":
            self.words = data[self.types_start : self.types_start + type_len].cast("I")  # in place
        else:
            words = array.array("I")
            words.frombytes(data[self.types_start : self.types_start + type_len])
            if sys.byteorder != "little":
                words.byteswap()
            self.words = words
        self.offsets = self._walk()
        self.count: int = len(self.offsets)
        self.last_id = self.first_id + self.count - 1
        self._names: dict[int, str] = {}
        #: every string is stored once (set for the kernel's BTF, which pahole and
        #: libbpf deduplicate; a split blob also never repeats its base's strings)
        self.unique_strings = False
        # Lookup structures, built on first use. Lookups may run in several
        # threads at once: each is built whole and then assigned, so a race
        # at worst builds one twice.
        self._index: dict[int, int | list[int]] | None = None
        self._named: dict[str, tuple[int, ...]] = {}
        self._flavours: dict[str, tuple[str, ...]] | None = None

    def _walk(self) -> array.array[int]:
        """Word offset of every record, in id order (the hot loop: keep it tiny)."""
        words = self.words
        end = len(words)
        offsets: array.array[int] = array.array("I")
        append = offsets.append
        steps: dict[int, int] = {}
        i = 0
        while True:
            try:
                while i < end:
                    append(i)
                    i += steps[words[i + 1]]
                break
            except KeyError as missing:  # first record with this info word
                info = missing.args[0]
                steps[info] = _record_words(info)
                offsets.pop()
            except IndexError:  # the last record's header is cut short
                i = _UNKNOWN_KIND_STEP
                break
        if i != end:
            last = offsets[-1]
            type_id = self.first_id + len(offsets) - 1
            where = f"type id {type_id} at type section offset {last * 4}"
            if last + 1 < end and _record_words(words[last + 1]) == _UNKNOWN_KIND_STEP:
                raise ParseError(f"{self.what}: {where}: unknown kind {s.info_kind(words[last + 1])}")
            raise ParseError(
                f"{self.what}: {where}: record runs past the end of the {end * 4}-byte type section"
            )
        return offsets

    def blob(self) -> bytes:
        """The whole blob as bytes (copied once from a view)."""
        if self._blob is None:
            self._blob = bytes(self.data)
        return self._blob

    # ----------------------------------------------------------- strings

    def string(self, offset: int, where: str) -> str:
        """The NUL-terminated string at ``offset`` (split BTF: base strings come first).

        Raises:
            ParseError: the offset is out of range or the string is unterminated.
        """
        if offset < self.first_string:
            assert self.base is not None
            return self.base.string(offset, where)
        cached = self._names.get(offset)
        if cached is not None:
            return cached
        local = offset - self.first_string
        strings = self.strings
        end = strings.find(b"\0", local)
        if local >= len(strings) or end < 0:
            raise ParseError(
                f"{self.what}: {where}: string offset {offset} is outside the "
                f"{len(strings)}-byte string section or unterminated"
            )
        text = strings[local:end].decode("utf-8", "replace")
        self._names[offset] = text
        return text

    def cache_strings(self) -> None:
        """Decode every string of the own section at once into the cache `string()` reads.

        For passes over the whole blob (the raw listing, the C header):
        one split of the section instead of a search per string.
        """
        strings = self.strings
        if not strings:
            return
        if strings.isascii():  # (as text, one character is one byte: offsets count either)
            texts = strings.decode("ascii").split("\0")[:-1]  # the section ends with NUL (checked on load)
            parts: list[bytes] | list[str] = texts
        else:
            parts = strings.split(b"\0")[:-1]
            texts = [part.decode("utf-8", "replace") for part in parts]
        steps = map(operator.add, map(len, parts), itertools.repeat(1))
        offsets = itertools.accumulate(steps, initial=self.first_string)
        self._names.update(zip(offsets, texts, strict=False))  # (one offset more: the end)

    def string_offsets(self, name: bytes) -> list[int]:
        """Every offset (base first) at which the whole string ``name`` starts.

        Only whole strings count: ``b"sock"`` does not match the tail of
        ``"inet_sock"``. When the section is known to hold each string once
        (`unique_strings`: the kernel's BTF, deduplicated when it was
        built) the search stops at the first match, which saves reading the
        rest of a 2 MB section (about 1 ms) per name.
        """
        found = self.base.string_offsets(name) if self.base is not None else []
        if not name:
            return found
        if found and self.unique_strings:
            return found  # a split blob's strings never repeat its base's
        strings = self.strings
        # split BTF's own section starts with a real string; a base's with the empty one
        if strings.startswith(name + b"\0"):
            found.append(self.first_string)
            if self.unique_strings:
                return found
        needle = b"\0" + name + b"\0"
        pos = strings.find(needle)
        while pos >= 0:
            found.append(pos + 1 + self.first_string)
            if self.unique_strings:
                break
            pos = strings.find(needle, pos + 1)
        return found

    def flavours(self, essential: str) -> list[str]:
        """Names of this blob's own string section that are ``essential`` with a CO-RE flavour.

        ``flavours("task_struct")`` -> ``["task_struct___old"]``: strings
        whose essential name (libbpf's ``bpf_core_essential_name_len``) is
        ``essential`` and differs from the string itself.
        """
        return list(self._flavour_index().get(essential, ()))

    def _flavour_index(self) -> dict[str, tuple[str, ...]]:
        """Every flavoured name of the own string section, by essential name (built once).

        One ``split`` on ``___`` in C, then a look at each of the few
        places found: searching per name would be slower, a needle that
        ends in ``_`` defeats ``bytes.find``'s skips (kernel strings are
        full of underscores).
        """
        index = self._flavours
        if index is not None:
            return index
        found: dict[str, list[str]] = {}
        strings = self.strings
        pos = 0
        for chunk in strings.split(b"___")[:-1]:
            pos += len(chunk)
            # a separator is exactly three underscores between two other characters of one string
            if (
                pos
                and strings[pos - 1] not in _NOT_NAME
                and strings[pos + 3 : pos + 4] not in (b"", b"_", b"\0")
            ):
                start = strings.rfind(b"\0", 0, pos) + 1
                stop = strings.find(b"\0", pos)
                name = strings[start : stop if stop >= 0 else len(strings)].decode("utf-8", "replace")
                essential = _essential_name(name)
                if essential != name and name not in found.get(essential, ()):
                    found.setdefault(essential, []).append(name)
            pos += 3
        index = self._flavours = {key: tuple(names) for key, names in found.items()}
        return index

    # ------------------------------------------------------------- lookup

    def _name_index(self) -> dict[int, int | list[int]]:
        """``name_off`` -> the own ids of the records with that name (an int when there is one).

        Built on first use with one pass over the record headers (about
        15 ms for a vmlinux of 127k types) and kept: anonymous records
        (``name_off`` 0) are left out.
        """
        index = self._index
        if index is not None:
            return index
        index = {}
        get = index.get
        for type_id, name_off in enumerate(map(self.words.__getitem__, self.offsets), self.first_id):
            if not name_off:
                continue
            have = get(name_off)
            if have is None:
                index[name_off] = type_id
            elif isinstance(have, int):
                index[name_off] = [have, type_id]
            else:
                have.append(type_id)
        self._index = index
        return index

    def ids_with_name_offset(self, name_off: int) -> list[int]:
        """Ids of this blob's own records whose ``name_off`` is ``name_off``, in id order."""
        if not name_off:
            return []
        have = self._name_index().get(name_off)
        if have is None:
            return []
        return [have] if isinstance(have, int) else list(have)

    def ids_named(self, name: str) -> list[int]:
        """Ids of this blob's own records named exactly ``name``, in id order (none decoded).

        For split BTF the name may be stored in the base's strings or in
        this blob's; both are looked up. Kept per name.
        """
        cached = self._named.get(name)
        if cached is not None:
            return list(cached)
        ids: list[int] = []
        for offset in self.string_offsets(name.encode()):
            ids.extend(self.ids_with_name_offset(offset))
        if len(ids) > 1:
            ids = sorted(set(ids))
        self._named[name] = tuple(ids)
        return ids

    def kind_of(self, type_id: int) -> int:
        """The kind number of an own type id (no decoding)."""
        return s.info_kind(self.words[self.offsets[type_id - self.first_id] + 1])

    # ------------------------------------------------------------- decode

    def decode(self, type_id: int, graph: TypeGraph) -> Type:
        """Decode this blob's type ``type_id`` (``first_id <= type_id <= last_id``).

        Raises:
            ParseError: a string offset or referenced type id is out of range,
                or a field holds a value the kind does not allow.
        """
        w = self.words
        at = self.offsets[type_id - self.first_id]
        name_off, info, size_or_type = w[at], w[at + 1], w[at + 2]
        kind = s.info_kind(info)
        vlen = s.info_vlen(info)
        kind_flag = bool(info >> 31)
        where = f"type id {type_id}"
        name = self.string(name_off, where)
        string = self.string
        ref = self._checked_ref
        at += 3
        if kind == s.KIND_INT:
            word = w[at]
            if size_or_type not in (1, 2, 4, 8, 16):
                # The kernel accepts INTs of 1, 2, 4, 8 and 16 bytes only (btf_int_check_meta).
                raise ParseError(f"{where}: INT of {size_or_type} bytes (1, 2, 4, 8 or 16 expected)")
            encoding = IntEncoding((word >> 24) & 0x0F)
            return Int(type_id, name, size_or_type, encoding, word & 0xFF, (word >> 16) & 0xFF, graph=graph)
        if kind == s.KIND_PTR:
            return Pointer(type_id, name, ref(size_or_type, where), graph=graph)
        if kind == s.KIND_ARRAY:
            return Array(type_id, name, ref(w[at], where), ref(w[at + 1], where), w[at + 2], graph=graph)
        if kind in (s.KIND_STRUCT, s.KIND_UNION):
            members = []
            # The common case (a cached name, an id in range) costs no message: those are
            # formatted only when a check fails.
            names, last = self._names, self.last_id
            for i in range(vlen):
                m_name, m_type, m_off = w[at], w[at + 1], w[at + 2]
                at += 3
                if kind_flag:  # BTF_MEMBER_BITFIELD_SIZE / BTF_MEMBER_BIT_OFFSET
                    bits, bitfield = m_off & 0xFFFFFF, m_off >> 24
                else:
                    bits, bitfield = m_off, 0
                member_name = names.get(m_name) if m_name >= self.first_string else None
                if member_name is None:
                    member_name = string(m_name, f"{where} member {i}")
                if m_type > last:
                    ref(m_type, f"{where} member {i}")
                members.append(Member(member_name, m_type, bits, bitfield, graph=graph))
            cls = Struct if kind == s.KIND_STRUCT else Union
            return cls(type_id, name, size_or_type, tuple(members), kind_flag, graph=graph)
        if kind == s.KIND_ENUM:
            values = []
            for i in range(vlen):
                value = w[at + 1]
                if kind_flag and value >= 1 << 31:  # signed enum (kind_flag, 6.0+)
                    value -= 1 << 32
                values.append(EnumValue(string(w[at], f"{where} enumerator {i}"), value))
                at += 2
            return Enum(type_id, name, size_or_type, tuple(values), kind_flag, graph=graph)
        if kind == s.KIND_ENUM64:
            values = []
            for i in range(vlen):
                value = w[at + 1] | (w[at + 2] << 32)
                if kind_flag and value >= 1 << 63:
                    value -= 1 << 64
                values.append(EnumValue(string(w[at], f"{where} enumerator {i}"), value))
                at += 3
            return Enum64(type_id, name, size_or_type, tuple(values), kind_flag, graph=graph)
        if kind == s.KIND_FWD:
            return Fwd(type_id, name, kind_flag, graph=graph)
        if kind == s.KIND_TYPEDEF:
            return Typedef(type_id, name, ref(size_or_type, where), graph=graph)
        if kind == s.KIND_VOLATILE:
            return Volatile(type_id, name, ref(size_or_type, where), graph=graph)
        if kind == s.KIND_CONST:
            return Const(type_id, name, ref(size_or_type, where), graph=graph)
        if kind == s.KIND_RESTRICT:
            return Restrict(type_id, name, ref(size_or_type, where), graph=graph)
        if kind == s.KIND_TYPE_TAG:
            return TypeTag(type_id, name, ref(size_or_type, where), kind_flag, graph=graph)
        if kind == s.KIND_FUNC:
            # a FUNC's vlen holds its linkage (static, global, extern)
            if vlen > FuncLinkage.EXTERN:
                raise ParseError(f"{self.what}: {where}: function linkage {vlen} is not one of 0..2")
            return Func(type_id, name, ref(size_or_type, where), FuncLinkage(vlen), graph=graph)
        if kind == s.KIND_FUNC_PROTO:
            params = []
            names, last = self._names, self.last_id
            for i in range(vlen):
                p_name, p_type = w[at], w[at + 1]
                param_name = names.get(p_name) if p_name >= self.first_string else None
                if param_name is None:
                    param_name = string(p_name, f"{where} parameter {i}")
                if p_type > last:
                    ref(p_type, f"{where} parameter {i}")
                params.append(Param(param_name, p_type, graph=graph))
                at += 2
            return FuncProto(type_id, name, ref(size_or_type, where), tuple(params), graph=graph)
        if kind == s.KIND_VAR:
            linkage = w[at]
            if linkage > VarLinkage.GLOBAL_EXTERN:
                raise ParseError(f"{self.what}: {where}: variable linkage {linkage} is not one of 0..2")
            return Var(type_id, name, ref(size_or_type, where), VarLinkage(linkage), graph=graph)
        if kind == s.KIND_DATASEC:
            entries = []
            for i in range(vlen):
                entries.append(
                    VarSecinfo(ref(w[at], f"{where} variable {i}"), w[at + 1], w[at + 2], graph=graph)
                )
                at += 3
            return Datasec(type_id, name, size_or_type, tuple(entries), graph=graph)
        if kind == s.KIND_FLOAT:
            return Float(type_id, name, size_or_type, graph=graph)
        if kind == s.KIND_DECL_TAG:
            component = w[at] - (1 << 32) if w[at] >= 1 << 31 else w[at]
            return DeclTag(type_id, name, ref(size_or_type, where), component, kind_flag, graph=graph)
        # the walk only indexes known kinds
        raise AssertionError(f"unreachable kind {kind}")

    def _checked_ref(self, type_id: int, where: str) -> int:
        if type_id > self.last_id:
            raise ParseError(
                f"{self.what}: {where}: refers to type id {type_id}, past the last id {self.last_id}"
            )
        return type_id
