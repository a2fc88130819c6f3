"""Library bugs the fuzz targets have found and that are not fixed yet.

Each entry matches an exception by type and message. The fuzz engines and
the hypothesis tests count a matching exception as "known" instead of a new
finding, so that one open bug does not hide the others; ``--strict`` (or
``FUZZ_STRICT=1``) turns that off. Each bug also has a deterministic,
``xfail(strict=True)`` regression test in ``tests/hardening/`` that starts
failing (XPASS) once the bug is fixed: then delete its entry here.
"""

from __future__ import annotations

import os
import re
import traceback
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KNOWN_BUGS", "KnownBug", "known_bug", "strict"]


@dataclass(frozen=True)
class KnownBug:
    """An open bug: which exception, whose message matches ``pattern``, and where it comes from."""

    ident: str
    #: the exception's exact class, as ``module.QualName`` (``builtins.TypeError``).
    exc_type: str
    pattern: str
    where: str
    #: when set, the innermost frame must be this ``file.py:function``.
    frame: str = ""

    def matches(self, exc: BaseException) -> bool:
        """Whether ``exc`` is this bug (exact type, message matching ``pattern``, raised in ``frame``)."""
        name = f"{type(exc).__module__}.{type(exc).__qualname__}"
        if name != self.exc_type or re.search(self.pattern, str(exc)) is None:
            return False
        if not self.frame:
            return True
        frames = traceback.extract_tb(exc.__traceback__)
        return bool(frames) and f"{Path(frames[-1].filename).name}:{frames[-1].name}" == self.frame


KNOWN_BUGS: tuple[KnownBug, ...] = ()


def strict() -> bool:
    """Whether known bugs count as findings (``FUZZ_STRICT=1``)."""
    return os.environ.get("FUZZ_STRICT", "") not in ("", "0")


def known_bug(exc: BaseException) -> KnownBug | None:
    """The open bug ``exc`` is an instance of, or None (always None in strict mode)."""
    if strict():
        return None
    return next((bug for bug in KNOWN_BUGS if bug.matches(exc)), None)
