#!/usr/bin/env bash
# Write packaging/requirements.lock: exact versions of everything the app, the tests and the
# installer build install (pyproject's dependencies and its dev, package and milvus extras, plus
# packaging/lock/pins.in), resolved by pip-compile for this platform and Python.
#   bash packaging/lock.sh                    keep today's pins, add what pyproject now asks for
#   bash packaging/lock.sh --upgrade          every package to its newest allowed release
#   bash packaging/lock.sh --upgrade-package transformers   one package (repeatable)
# `make lock`, `make lock-upgrade` and `make test-latest` call this; see docs/PACKAGING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
LOCK=packaging/requirements.lock

# --allow-unsafe pins pip and setuptools too: the editable install builds without isolation,
# with the locked setuptools. Index URLs stay out of the file: they are this machine's.
"$VENV/bin/pip-compile" --quiet --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
    --extra dev --extra package --extra milvus \
    --output-file "$LOCK" "$@" pyproject.toml packaging/lock/pins.in \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

# The CPU wheel of torch carries a local version label (2.13.0+cpu). Locked as the public
# version it matches that wheel, PyTorch's CPU index and PyPI's build for macOS and Windows.
sed -i -E 's/^torch==([0-9][0-9.]*)\+[a-z0-9.]+$/torch==\1/' "$LOCK"
# pip-compile writes the command with the options given; keep the file the same whoever ran it.
sed -i -E 's|^#    pip-compile .*|#    bash packaging/lock.sh (see docs/PACKAGING.md)|' "$LOCK"
grep -E '^(torch|transformers)==' "$LOCK"
