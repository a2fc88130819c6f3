"""bpftool's argument words: ``id 42``, ``pinned /sys/fs/bpf/x``, ``name counts``, ``key 1 0 0 0`` ...

bpftool takes its arguments as keyword/value words rather than options;
the commands that create, pin and attach objects take them the same way,
so a bpftool command line works with ``ebpf`` unchanged. Everything here
checks the words only (no system call) except naming an object, which looks
it up.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._objects import NOUNS, pinned_id, resolve_id
from ._output import CliError

__all__ = ["Words", "check_new_pin", "check_on_bpffs"]

#: The object words of bpftool: ``id N``, ``pinned PATH``, ``name NAME`` (bpftool has ``tag`` too).
_REF_WORDS = ("id", "pinned", "name")


class Words:
    """The words of a command line, consumed from the front.

    Raises (every method):
        SystemExit: status 2 (bad usage, as argparse's errors) when a word
            is missing, extra, or not what the command takes; the message
            on stderr names the word and what was expected.
        CliError: an object named by the words does not exist.
    """

    def __init__(self, words: Sequence[str], command: str) -> None:
        self._words = list(words)
        self.command = command

    def usage(self, message: str) -> NoReturn:
        """Stop with a usage error about these words: ``message`` on stderr, exit status 2."""
        print(f"ebpf {self.command}: error: {message} (see ebpf {self.command} --help)", file=sys.stderr)
        raise SystemExit(2)

    def __bool__(self) -> bool:
        return bool(self._words)

    def peek(self) -> str | None:
        """The next word, without consuming it (``None`` at the end)."""
        return self._words[0] if self._words else None

    def take(self, what: str) -> str:
        """The next word, which the command needs as ``what``."""
        if not self._words:
            self.usage(f"missing {what}")
        return self._words.pop(0)

    def take_int(self, what: str) -> int:
        """The next word as a non-negative integer (decimal or ``0x..``)."""
        word = self.take(what)
        try:
            value = int(word, 0)
        except ValueError:
            self.usage(f"{what} must be an integer, not {word!r}")
        if value < 0:
            self.usage(f"{what} must not be negative, got {value}")
        return value

    def take_object(self, kind: str, listing: Callable[[], Sequence[Any]]) -> int:
        """The id of an object named as bpftool names it: ``id N``, ``pinned PATH`` or ``name NAME``.

        A bare id, path or name (``ebpf``'s short form) is accepted too.
        """
        what = f"{NOUNS[kind]} (id N, pinned PATH or name NAME)"
        word = self.take(what)
        if word == "id":
            return self.take_int(f"{NOUNS[kind]} id")
        if word == "pinned":
            return pinned_id(kind, self.take(f"path of the pinned {NOUNS[kind]}"))
        if word == "name":
            return _by_name(kind, self.take(f"{NOUNS[kind]} name"), listing)
        return resolve_id(kind, word, listing)

    def take_data(self, what: str) -> list[str]:
        """The bytes after a ``key``/``value`` word, up to the next keyword, as ``parse_bytes`` tokens.

        bpftool's ``hex 01 00 00 00`` becomes ``hex:01000000``.
        """
        data: list[str] = []
        while self._words and self._words[0] not in _DATA_ENDS:
            data.append(self._words.pop(0))
        if not data:
            self.usage(f"missing the bytes of the {what}")
        if data[0] == "hex":
            return ["hex:" + "".join(data[1:])]
        return data

    def end(self) -> None:
        """Check that every word was consumed."""
        if self._words:
            self.usage(f"unexpected {' '.join(self._words)!r}")


#: Words that end the bytes of a key or value.
_DATA_ENDS = frozenset({"key", "value", "any", "exist", "noexist"})


def _by_name(kind: str, name: str, listing: Callable[[], Sequence[Any]]) -> int:
    """The id of the one ``kind`` object called ``name`` (here a word that looks like an id is a name)."""
    matches = [info.id for info in listing() if info.name == name]
    if not matches:
        raise CliError(f"no {NOUNS[kind]} named {name!r} (`ebpf {kind} list` shows those that are loaded)")
    if len(matches) > 1:
        raise CliError(
            f"{len(matches)} {kind}s are named {name!r} (ids {', '.join(map(str, matches))}): give an id"
        )
    return int(matches[0])


def check_on_bpffs(path: str | os.PathLike[str]) -> None:
    """Check that ``path`` (which may not exist yet) is under a BPF filesystem mount.

    Raises:
        CliError: it is not.
    """
    from ebpf.syscall import system

    real = Path(os.path.realpath(path))
    if not any(real == mount or mount in real.parents for mount in system.find_mounts("bpf")):
        raise CliError(
            f"{path} is not on a BPF filesystem: objects are pinned under bpffs (usually /sys/fs/bpf)"
        )


def check_new_pin(path: str) -> Path:
    """Check that an object can be pinned at ``path``: on bpffs, free, in an existing directory.

    Raises:
        CliError: ``path`` exists, its directory is missing, or it is not on a BPF filesystem.
    """
    pin = Path(path)
    if os.path.lexists(pin):
        raise CliError(f"{path} exists: pin at a free path (or remove it first)")
    if not Path(os.path.realpath(pin.parent)).is_dir():
        raise CliError(f"{pin.parent} is not a directory: create it on bpffs first")
    check_on_bpffs(pin.parent)
    return pin
