"""The layering rules: the core never imports Qt, and nothing imports torch until a model
is loaded (so the window can appear first)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import photo_tagger

PACKAGE = Path(photo_tagger.__file__).parent
QT_FREE = ["photo_tagger.cli", "photo_tagger.paths", "photo_tagger.config"] + sorted(
    f"photo_tagger.{package}.{p.stem}" for package in ("core", "cli")
    for p in (PACKAGE / package).glob("*.py") if p.stem != "__init__")

PROBE = """
import importlib, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
for module in {modules!r}:
    importlib.import_module(module)
print('ok')
"""


def probe(modules: list[str], blocked: set[str]) -> subprocess.CompletedProcess[str]:
    code = PROBE.format(modules=modules, blocked=blocked)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=PACKAGE.parent)


def test_core_and_cli_import_without_qt() -> None:
    assert "photo_tagger.cli.command" in QT_FREE  # every module of the command line
    result = probe(QT_FREE, {"PySide6", "shiboken6"})
    assert result.returncode == 0, result.stderr
    assert "blocked" not in result.stderr


def test_importing_the_core_does_not_import_torch() -> None:
    result = probe(QT_FREE, {"torch", "transformers"})
    assert result.returncode == 0, result.stderr
