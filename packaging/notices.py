"""Third-party notices for the bundle: the licence files of every package the app ships.

    python packaging/notices.py OUT_DIR

Walks the runtime requirements of photo-tagger (no dev or package extras) in the running
environment, and writes, under OUT_DIR:
- `<package>/...`: each package's own licence and notice files, as its wheel carries them;
- `THIRD-PARTY-NOTICES.txt`: one entry per package (version, licence, home page), and where
  a wheel carries no licence file (PySide6, sqlite-vec, ...), the licence texts kept in
  packaging/licenses/ are copied beside it;
- `Python/LICENSE.txt`: the licence of the Python the bundle carries.
build-linux.sh puts OUT_DIR at /opt/photo-tagger/licenses and derives the .deb's copyright
file from the summary; the Windows and macOS recipes can do the same.
"""

from __future__ import annotations

import re
import shutil
import sys
import sysconfig
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

APP = "photo-tagger"
HERE = Path(__file__).resolve().parent
LICENCE_FILE = re.compile(r"(LICEN[CS]E|COPYING|NOTICE|AUTHORS)", re.IGNORECASE)
# Licence texts for packages whose wheels carry none, by a word of their licence field.
KEPT_TEXTS = {
    "LGPL-3.0": ["LGPL-3.0.txt", "GPL-3.0.txt"],  # the LGPL is an addendum to the GPL
    "GPL-2.0": ["GPL-2.0.txt"],
    "Apache": ["../../LICENSE"],
}


def runtime_distributions(root: str = APP) -> list[Distribution]:
    """The installed distributions the app needs at run time, `root` first, each once."""
    seen: dict[str, Distribution] = {}
    pending = [root]
    while pending:
        name = canonicalize_name(pending.pop())
        if name in seen:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:  # an optional dependency that is not installed
            continue
        seen[name] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return list(seen.values())


def licence_of(dist: Distribution) -> str:
    meta = dist.metadata
    text = meta.get("License-Expression") or meta.get("License") or ""
    if not text or len(text) > 120:  # some packages put the whole text in the field
        classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                       if c.startswith("License ::")]
        text = ", ".join(classifiers) or (text.splitlines()[0] if text else "see files")
    return text


def home_page(dist: Distribution) -> str:
    meta = dist.metadata
    urls = [u.split(",", 1)[-1].strip() for u in meta.get_all("Project-URL") or []]
    return meta.get("Home-page") or (urls[0] if urls else "")


def write_notices(out: Path) -> list[tuple[str, str, str]]:
    """Write the notices under `out`; returns (name, version, licence) for each package."""
    out.mkdir(parents=True, exist_ok=True)
    summary = ["Third-party software in the photo-tagger bundle", "=" * 48, ""]
    entries = []
    for dist in runtime_distributions():
        name, version = dist.metadata["Name"], dist.version
        if canonicalize_name(name) == APP:
            continue
        licence = licence_of(dist)
        folder = out / name
        copied = []
        for file in dist.files or []:
            if LICENCE_FILE.search(file.name) and not file.name.endswith((".py", ".pyc")):
                source = Path(str(file.locate()))
                if source.is_file():
                    # Keep the path inside the dist-info: torch has many LICENSE files.
                    parts = file.parts[1:] if file.parts[0].endswith(".dist-info") else file.parts
                    target = folder.joinpath(*parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
                    copied.append(target)
        if not copied:
            for word, texts in KEPT_TEXTS.items():
                if word in licence:
                    folder.mkdir(parents=True, exist_ok=True)
                    for text in texts:
                        source = (HERE / "licenses" / text).resolve()
                        shutil.copyfile(source, folder / source.name)
                        copied.append(folder / source.name)
        summary += [f"{name} {version}", f"  Licence: {licence}"]
        if home_page(dist):
            summary.append(f"  Home: {home_page(dist)}")
        summary += [f"  Files: licenses/{name}/" if copied else "  Files: (none shipped)", ""]
        entries.append((name, version, licence))
    python_licence = Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"
    if python_licence.is_file():
        (out / "Python").mkdir(exist_ok=True)
        shutil.copyfile(python_licence, out / "Python" / "LICENSE.txt")
        summary += [f"Python {sys.version.split()[0]}", "  Licence: PSF-2.0",
                    "  Files: licenses/Python/", ""]
    (out / "THIRD-PARTY-NOTICES.txt").write_text("\n".join(summary), encoding="utf-8")
    return entries


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name, version, licence in write_notices(Path(sys.argv[1])):
        print(f"{name} {version}: {licence}")
