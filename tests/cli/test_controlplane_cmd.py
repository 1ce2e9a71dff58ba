"""`controlplane up|down` refuse a --dir that names a file, before touching anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from netfence.cli.main import build
from netfence.composition import Runtime


@pytest.mark.parametrize("command", ["up", "down"])
def test_a_dir_that_is_a_file_is_refused_with_what_to_name(tmp_path: Path, command: str) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("not a control plane\n")
    result = CliRunner().invoke(
        build(Runtime()), ["controlplane", command, "--dir", str(file)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 1
    assert f"--dir {file} is a file; name the control plane's data directory" in " ".join(
        result.stderr.split()
    )
    assert file.read_text() == "not a control plane\n"
