"""The command line's shape: every command in `--help` in its fixed order, each module of
the `cli` package importable on its own (no import cycle), and the progress bar drawn on a
terminal only."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

import photo_tagger.cli
from photo_tagger.cli import main
from photos import solid

REPO = Path(__file__).resolve().parent.parent
CLI_MODULES = sorted(f"photo_tagger.cli.{p.stem}"
                     for p in Path(photo_tagger.cli.__file__).parent.glob("*.py")
                     if p.stem != "__init__")
ORDER = ["index", "search", "similar", "duplicates", "albums", "status", "doctor", "models",
         "labels", "retag", "tags", "tag", "untag", "review", "folders", "export-xmp", "exclusions",
         "watch", "demo"]


def test_help_lists_every_command_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "{" + ",".join(ORDER) + "}" in out
    listed = re.findall(r"^    (\S+) ", out, flags=re.MULTILINE)
    assert listed == ORDER


def test_every_cli_module_imports_alone() -> None:
    assert "photo_tagger.cli.command" in CLI_MODULES and len(CLI_MODULES) >= 5
    for module in ["photo_tagger.cli", *CLI_MODULES]:
        result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{module}: {result.stderr}"


def _index_on_a_terminal(folder: Path, model: Path, home: Path) -> tuple[int, str, str]:
    """`photo-tagger index` with stderr on a pseudo-terminal 100 columns wide."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = dict(os.environ, PHOTO_TAGGER_HOME=str(home), HF_HUB_OFFLINE="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "photo_tagger", "index", str(folder), "--model", str(model)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal's other end closed: the process is gone
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    out = process.stdout.read().decode() if process.stdout else ""
    if process.stdout:
        process.stdout.close()
    return process.wait(timeout=120), out, drawn.decode(errors="replace")


def test_progress_bar_on_a_terminal_only(tmp_path: Path, fixres_model: Path,
                                         isolated_home: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for number in range(3):
        solid(folder / f"{number}.png", (70 * number, 40, 200))

    code, out, drawn = _index_on_a_terminal(folder, fixres_model, isolated_home)
    assert code == 0, drawn
    assert "Indexed 3" in out
    # tqdm's bar: the count of the total, the percentage and the rate.
    assert "Indexing: 100%" in drawn and "3/3" in drawn and "photos/s" in drawn, drawn

    solid(folder / "new.png", (1, 2, 3))
    piped = subprocess.run(
        [sys.executable, "-m", "photo_tagger", "index", str(folder)], cwd=REPO,
        env=dict(os.environ, PHOTO_TAGGER_HOME=str(isolated_home), HF_HUB_OFFLINE="1"),
        capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert "Indexed 1" in piped.stdout
    assert "Indexing" not in piped.stderr and "photos/s" not in piped.stderr
