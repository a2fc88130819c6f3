"""``ebpf elf usdt``: the USDT probes of a binary, in words and as JSON (no kernel needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ebpf.core import cli
from tests.elf._usdt_files import elf_with_notes, stapsdt_note

NOTES = stapsdt_note(0x1100, 0x1800, 0x3004, b"app", b"request", b"-4@[sp, 12] 8@x0 4@5") + stapsdt_note(
    0x1200, 0x1800, 0, b"app", b"idle", b""
)


def test_cli_lists_probes_with_their_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "app.so"
    binary.write_bytes(elf_with_notes(NOTES))
    assert cli.main(["elf", "usdt", str(binary)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{binary}: 2 USDT probes",
        "app:request  at 0x1100 (file offset 0x1100), semaphore 0x3004 (file offset 0x2004)",
        "  arg0: i32 at [sp, 12]",
        "  arg1: u64 in x0",
        "  arg2: const 5",
        "app:idle  at 0x1200 (file offset 0x1200)",
        "  no arguments",
    ]
    assert cli.main(["elf", "usdt", str(binary), "--json"]) == 0
    request, idle = json.loads(capsys.readouterr().out)
    assert (request["provider"], request["name"], request["file_offset"]) == ("app", "request", 0x1100)
    assert (request["semaphore"], request["semaphore_offset"]) == (0x3004, 0x2004)
    assert [a["description"] for a in request["arguments"]] == ["i32 at [sp, 12]", "u64 in x0", "const 5"]
    assert request["arguments"][0] | {"description": ""} == {
        "spec": "-4@[sp, 12]",
        "type": "i32",
        "kind": "reg_deref",
        "register": "sp",
        "offset": 12,
        "value": 0,
        "description": "",
    }
    assert (idle["arguments"], idle["semaphore"]) == ([], 0)


def test_cli_usdt_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["elf", "usdt", str(tmp_path / "missing")]) == 1
    assert capsys.readouterr().err == (
        f"ebpf: error: {tmp_path / 'missing'}: no such file (nor a library the dynamic loader would find)\n"
    )
    broken = tmp_path / "broken.so"
    broken.write_bytes(elf_with_notes(stapsdt_note(0x1100, 0, 0, b"app", b"bad", b"3@x0")))
    assert cli.main(["elf", "usdt", str(broken)]) == 1
    assert "size 3 is not 1, 2, 4 or 8" in capsys.readouterr().err
