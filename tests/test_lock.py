"""The build is locked: every package the code imports is declared, every declared range is
met by the lock, the venv holds exactly the locked versions, and the bundle's notices cover
what it ships. A dependency that moves, or one imported but never declared, fails here."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "packaging" / "requirements.lock"
sys.path.insert(0, str(ROOT / "packaging"))

from notices import runtime_distributions, write_notices  # noqa: E402


def locked_versions() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            assert pinned, f"the lock holds a line that is not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = pinned
    return pins


def declared(extras: tuple[str, ...] = ()) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def imported_top_level_modules() -> set[str]:
    modules = set()
    for path in [*(ROOT / "photo_tagger").rglob("*.py"), ROOT / "packaging" / "launcher.py"]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"photo_tagger", "__future__"}


# Optional extras whose packages the app imports only when the user chose the feature
# (core/milvus_store.py imports pymilvus inside the function that needs it).
OPTIONAL_RUNTIME_EXTRAS = ("milvus",)


def test_every_imported_package_is_declared():
    runtime = {canonicalize_name(r.name) for r in declared(OPTIONAL_RUNTIME_EXTRAS)}
    owners = packages_distributions()
    undeclared = {}
    for module in imported_top_level_modules():
        assert module in owners, f"'{module}' is imported but not installed"
        dists = {canonicalize_name(d) for d in owners[module]}
        if not dists & runtime:
            undeclared[module] = sorted(dists)
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_the_lock_meets_every_declared_range():
    pins = locked_versions()
    for requirement in declared(("dev", "package", *OPTIONAL_RUNTIME_EXTRAS)):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is declared but not locked: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"the lock has {name}=={pins[name]}, outside the declared {requirement}")


def test_the_lock_pins_torch_and_transformers_as_public_versions():
    pins = locked_versions()
    for name in ("torch", "transformers"):
        # A local label (2.13.0+cpu) would match no wheel on PyPI or PyTorch's CPU index.
        assert Version(pins[name]).local is None, pins[name]
    specifiers = {canonicalize_name(r.name): r.specifier for r in declared()}
    for name in ("torch", "transformers", "pyside6-essentials", "numpy"):
        # Each of these has an upper bound below its next major release.
        assert any(s.operator in ("<", "<=") for s in specifiers[name]), name


def test_the_environment_holds_the_locked_versions():
    """`make venv` installs from the lock; a package that moved under it shows here."""
    moved = {}
    for name, pinned in locked_versions().items():
        installed = Version(version(name))
        if installed.public != Version(pinned).public:
            moved[name] = (pinned, str(installed))
    assert not moved, f"locked vs installed: {moved}; run `make venv`"


def test_runtime_walk_finds_what_the_bundle_needs():
    names = {canonicalize_name(d.metadata["Name"]) for d in runtime_distributions()}
    # kernels comes only through transformers: the walk follows requirements, not a list.
    assert {"photo-tagger", "transformers", "kernels", "torch", "pyside6-essentials",
            "sqlite-vec"} <= names
    assert not names & {"pytest", "ruff", "pyinstaller", "pip-tools"}  # dev and package extras


def test_notices_ship_a_licence_text_for_every_big_runtime(tmp_path: Path):
    entries = write_notices(tmp_path)
    assert "transformers" in {name for name, _, _ in entries}
    # PySide6's wheel carries no licence file: the LGPL text (and the GPL it amends) is added.
    qt = tmp_path / "PySide6_Essentials"
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in (qt / "LGPL-3.0.txt").read_text()
    assert (qt / "GPL-3.0.txt").is_file()
    assert (tmp_path / "torch" / "licenses" / "LICENSE").is_file()
    summary = (tmp_path / "THIRD-PARTY-NOTICES.txt").read_text()
    for name in ("torch", "transformers", "sqlite-vec", "PySide6_Essentials", "kernels"):
        assert f"\n{name} " in summary or summary.startswith(f"{name} "), name
    for folder in tmp_path.iterdir():
        if folder.is_dir():
            assert any(folder.rglob("*")), f"an empty notices folder: {folder.name}"
