#!/usr/bin/env bash
# Build the Linux one-folder bundle and the .deb made from it, from a fresh clone:
#   bash packaging/build-linux.sh        ->  dist/photo-tagger/  and  dist/photo-tagger_<v>_<arch>.deb
# Uses the project's venv ($VENV, default .venv; `make venv` creates it with CPU-only torch).
# Build on the oldest distribution you support: its system libraries end up in the bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
APP=photo-tagger
COMPRESS=${DEB_COMPRESS:-zstd}  # xz is ~20% smaller but takes ~9 minutes here

# The venv from the lock (PyInstaller included); a no-op when it is up to date.
make --no-print-directory venv VENV="$VENV"
VERSION=$("$PY" -c "import photo_tagger; print(photo_tagger.__version__)")
ARCH=$(dpkg --print-architecture)

echo "== PyInstaller bundle (photo-tagger $VERSION)"
start=$SECONDS
"$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/photo-tagger.spec
echo "bundle built in $((SECONDS - start)) s: $(du -sh dist/$APP | cut -f1)"
# Licence texts of everything bundled, beside the executable (/opt/photo-tagger/licenses).
"$PY" packaging/notices.py "dist/$APP/licenses" >/dev/null
cp LICENSE "dist/$APP/licenses/LICENSE"

echo "== .deb"
start=$SECONDS
stage=build/deb/$APP
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications" \
    "$stage/usr/share/doc/$APP"
cp -a "dist/$APP" "$stage/opt/$APP"
# A wrapper, not a symlink: the bundle finds its libraries next to the real executable.
cat > "$stage/usr/bin/$APP" <<'SH'
#!/bin/sh
exec /opt/photo-tagger/photo-tagger "$@"
SH
chmod 755 "$stage/usr/bin/$APP"
cp packaging/linux/photo-tagger.desktop "$stage/usr/share/applications/$APP.desktop"

# Icons in the hicolor theme: the GUI's icon when it is there, else the placeholder.
icon_png=resources/icons/photo-tagger.png
[ -f "$icon_png" ] || icon_png=packaging/icons/photo-tagger.png
"$PY" - "$icon_png" "$stage/usr/share/icons/hicolor" <<'PYEOF'
import sys
from pathlib import Path

from PIL import Image

source, theme = Image.open(sys.argv[1]).convert("RGBA"), Path(sys.argv[2])
for size in (16, 32, 48, 64, 128, 256):
    folder = theme / f"{size}x{size}" / "apps"
    folder.mkdir(parents=True, exist_ok=True)
    source.resize((size, size), Image.LANCZOS).save(folder / "photo-tagger.png")
PYEOF
if [ -f resources/icons/photo-tagger.svg ]; then
    install -D -m 644 resources/icons/photo-tagger.svg \
        "$stage/usr/share/icons/hicolor/scalable/apps/$APP.svg"
fi

{
    echo "photo-tagger $VERSION: Apache-2.0 (/opt/$APP/licenses/LICENSE)."
    echo "The bundle under /opt/$APP carries the third-party software below; each one's"
    echo "licence files are in /opt/$APP/licenses/<name>/."
    echo
    cat "dist/$APP/licenses/THIRD-PARTY-NOTICES.txt"
} > "$stage/usr/share/doc/$APP/copyright"

installed_kb=$(du -sk "$stage" | cut -f1)
# The bundle needs at least the C library it was built against.
# (getconf, not `ldd --version | head -1`: head closing the pipe early killed ldd with
# SIGPIPE under load, and pipefail failed the build.)
glibc=$(getconf GNU_LIBC_VERSION | cut -d' ' -f2)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@INSTALLED_SIZE@/$installed_kb/" \
    -e "s/@GLIBC@/$glibc/" \
    packaging/linux/control.in > "$stage/DEBIAN/control"
install -m 755 packaging/linux/postrm "$stage/DEBIAN/postrm"
# Files 644 and folders 755 whatever the build user's umask; executables keep their x bit.
find "$stage" -type d -exec chmod 755 {} +
find "$stage" -type f ! -perm -u+x -exec chmod 644 {} +

deb="dist/${APP}_${VERSION}_${ARCH}.deb"
rm -f "$deb"
dpkg-deb --root-owner-group -Z"$COMPRESS" --build "$stage" "$deb" >/dev/null
echo ".deb built in $((SECONDS - start)) s: $deb $(du -h "$deb" | cut -f1)"
