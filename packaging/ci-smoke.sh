#!/usr/bin/env bash
# CI smoke test of the Linux package, run as root on a fresh machine after `make test`:
# build the bundle and the .deb, install it with apt, run the installed app's self-test,
# time its start-up, remove it and check that nothing is left behind.
set -euo pipefail
cd "$(dirname "$0")/.."
APP=photo-tagger
export VENV=${VENV:-.venv}  # the venv `make test` just made; nothing is cached between runs

total=$SECONDS
bash packaging/build-linux.sh
deb=$(ls dist/${APP}_*.deb)
echo "== sizes"
echo "bundle: $(du -sh dist/$APP | cut -f1) ($(du -sb dist/$APP | cut -f1) bytes)"
echo "package: $(du -h "$deb" | cut -f1) ($(stat -c %s "$deb") bytes)"
du -sh dist/$APP/_internal/torch/lib dist/$APP/_internal/PySide6 \
    dist/$APP/_internal/transformers dist/$APP/$APP | sed 's/^/  /'

echo "== install"
if ! apt-get install -y -qq "./$deb" >/dev/null 2>&1; then
    # A fresh machine may have no package lists yet.
    apt-get update -qq
    apt-get install -y -qq "./$deb" >/dev/null
fi
trap 'apt-get purge -y -qq $APP >/dev/null 2>&1 || true' EXIT
test -x /usr/bin/$APP
test -f /usr/share/applications/$APP.desktop
test -f /usr/share/icons/hicolor/256x256/apps/$APP.png
# Third-party notices ship with the app: our licence, Qt's LGPL, and the big runtimes'.
for notice in LICENSE THIRD-PARTY-NOTICES.txt PySide6_Essentials/LGPL-3.0.txt \
        torch/licenses/LICENSE transformers/licenses/LICENSE sqlite-vec/LICENSE; do
    test -f "/opt/$APP/licenses/$notice" || { echo "missing notice: $notice" >&2; exit 1; }
done
grep -q "^transformers " /usr/share/doc/$APP/copyright
if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate /usr/share/applications/$APP.desktop
fi

echo "== installed app"
work=$(mktemp -d)
TIMEFORMAT='start-up (--version): %R s'
time (cd "$work" && $APP --version)
TIMEFORMAT='self-test: %R s'
time (cd "$work" && HOME="$work" QT_QPA_PLATFORM=offscreen $APP --self-test)
rm -rf "$work"

echo "== remove"
apt-get purge -y -qq $APP >/dev/null
trap - EXIT
left=""
for path in /opt/$APP /usr/bin/$APP /usr/share/applications/$APP.desktop \
        /usr/share/doc/$APP; do
    [ -e "$path" ] && left="$left $path"
done
left="$left $(find /usr/share/icons -name "$APP.*" 2>/dev/null | tr '\n' ' ')"
if [ -n "${left// /}" ]; then
    echo "left behind after removal:$left" >&2
    exit 1
fi
echo "removed cleanly"
echo "ci-smoke passed in $((SECONDS - total)) s"
