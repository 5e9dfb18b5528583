#!/usr/bin/env bash
# Build "Photo Tagger.app" and a .dmg on macOS (run from anywhere in the checkout):
#   bash packaging/macos/build-dmg.sh
# Signing and notarisation run when their secrets are set, and are skipped otherwise (an
# unsigned .dmg opens with right-click > Open):
#   CODESIGN_IDENTITY  "Developer ID Application: Name (TEAMID)", in the login keychain
#   NOTARY_PROFILE     a profile saved once with
#                      `xcrun notarytool store-credentials NAME --apple-id ... --team-id ...`
# Leaves dist/Photo Tagger.app and dist/photo-tagger-<version>-macos-<arch>.dmg.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
APP_NAME="Photo Tagger"
APP="dist/$APP_NAME.app"

if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet torch==2.13.0  # macOS wheels on PyPI are CPU/MPS only
    "$VENV/bin/pip" install --quiet --constraint packaging/requirements.lock -e ".[dev,package]"
fi
VERSION=$("$PY" -c "import photo_tagger; print(photo_tagger.__version__)")
ARCH=$(uname -m)

start=$SECONDS
"$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/photo-tagger.spec
echo "app built in $((SECONDS - start)) s: $(du -sh "$APP" | cut -f1)"

# The same check users run. setup-python's and python.org's macOS Pythons cannot load SQLite
# extensions: the self-test proves the bundled sqlean fallback carries sqlite-vec.
QT_QPA_PLATFORM=offscreen "$APP/Contents/MacOS/photo-tagger" --self-test

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    # Sign every Mach-O inside first, then the app: --deep alone misses libraries kept in
    # Contents/Resources and Frameworks by PyInstaller's layout.
    find "$APP/Contents" -type f -print0 | while IFS= read -r -d '' file; do
        if file -b "$file" | grep -q "Mach-O"; then
            codesign --force --timestamp --options runtime \
                --entitlements packaging/macos/entitlements.plist \
                --sign "$CODESIGN_IDENTITY" "$file"
        fi
    done
    codesign --force --deep --timestamp --options runtime \
        --entitlements packaging/macos/entitlements.plist --sign "$CODESIGN_IDENTITY" "$APP"
    codesign --verify --deep --strict --verbose=2 "$APP"
else
    echo "CODESIGN_IDENTITY not set: the app is not signed"
fi

dmg="dist/photo-tagger-$VERSION-macos-$ARCH.dmg"
stage=build/dmg
rm -rf "$stage" "$dmg"
mkdir -p "$stage"
cp -R "$APP" "$stage/"
ln -s /Applications "$stage/Applications"  # drag-to-install
hdiutil create -volname "$APP_NAME" -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$dmg"

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$CODESIGN_IDENTITY" "$dmg"
fi
if [ -n "${CODESIGN_IDENTITY:-}" ] && [ -n "${NOTARY_PROFILE:-}" ]; then
    # Apple scans the upload; --wait returns when it is accepted or rejected (minutes).
    xcrun notarytool submit "$dmg" --keychain-profile "$NOTARY_PROFILE" --wait
    # Staple the ticket so Gatekeeper accepts the app offline too.
    xcrun stapler staple "$dmg"
    xcrun stapler validate "$dmg"
    spctl --assess --type open --context context:primary-signature --verbose "$dmg"
else
    echo "NOTARY_PROFILE not set: the .dmg is not notarised"
fi
echo "$dmg: $(du -h "$dmg" | cut -f1)"
