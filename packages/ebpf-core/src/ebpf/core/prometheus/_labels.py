"""Map keys and values as Prometheus label values and sample values.

Keys arrive as the map's codecs decode them: an ``int``, a tuple (``struct``
codecs), a dict by member name (BTF-typed struct keys), a ``ctypes``
structure, an ``ipaddress`` object. ebpf_exporter calls the step from key to
labels "decoding"; here a key becomes one label value per label name, after
an optional user function.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["KeyDecoder", "label_names", "label_text", "label_values", "sample_value"]

#: A user's key decoder: from a decoded key to its label values (in label order) or a dict by label name.
KeyDecoder = Callable[[Any], "Sequence[Any] | Mapping[str, Any] | Any"]


def label_text(value: Any) -> str:
    """One label value as text: bytes up to the first NUL (a C string), ``bool`` as ``true``/``false``,
    anything else through ``str`` (ints, strings, IP addresses)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).split(b"\0", 1)[0].decode("utf-8", "replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fields(key: Any) -> Mapping[str, Any] | None:
    """The members of a struct key by name (a dict, or a ``ctypes`` structure); ``None`` for other keys."""
    if isinstance(key, Mapping):
        return key
    if isinstance(key, ctypes.Structure):
        return {name: getattr(key, name) for name, *_ in key._fields_ if not name.startswith("__pad")}
    return None


def label_names(key: Any) -> tuple[str, ...]:
    """The label names a struct key gives when none are named: its member names.

    Raises:
        TypeError: ``key`` is not a struct (a dict or a ``ctypes`` structure), so it has no names.
    """
    fields = _fields(key)
    if fields is None:
        raise TypeError(
            f"a key of type {type(key).__name__} has no member names: give the metric labels=(...)"
        )
    return tuple(fields)


def label_values(key: Any, names: Sequence[str]) -> tuple[str, ...]:
    """The label values of ``key`` for label ``names``, in their order.

    A struct key gives the members of those names; a tuple or list its items
    in order; any other key is the one label's value. No names: no labels
    (every entry adds to one sample).

    Raises:
        ValueError: a tuple key whose length is not the number of names, or a
            scalar key with several names.
        KeyError: a struct key without a member of one of the names.
    """
    if not names:
        return ()
    fields = _fields(key)
    if fields is not None:
        missing = [name for name in names if name not in fields]
        if missing:
            raise KeyError(f"labels {missing} are not members of the key (members: {sorted(fields)})")
        return tuple(label_text(fields[name]) for name in names)
    if isinstance(key, (tuple, list)):
        if len(key) != len(names):
            raise ValueError(f"key {key!r} has {len(key)} fields for {len(names)} labels {list(names)}")
        return tuple(label_text(item) for item in key)
    if len(names) != 1:
        raise ValueError(f"key {key!r} is one value, for {len(names)} labels {list(names)}: give key=...")
    return (label_text(key),)


def sample_value(value: Any) -> float:
    """A map value as a sample: a number, or per-CPU numbers (summed).

    Raises:
        TypeError: any other value (give the metric ``value=`` to pick a number from it).
    """
    if isinstance(value, (int, float)):
        return float(value)
    if (
        isinstance(value, Sequence)
        and not isinstance(value, (str, bytes, bytearray))
        and all(isinstance(item, (int, float)) for item in value)
    ):
        return float(sum(value))
    raise TypeError(
        f"a map value of type {type(value).__name__} is not a number nor per-CPU numbers: "
        "give the metric value=lambda value: ... to pick one"
    )
