# The two set-up commands of the README: `make run` and `make test`. Both install the exact
# versions in packaging/requirements.lock, never whatever is newest today.
PYTHON ?= python3
VENV ?= .venv
LOCK := packaging/requirements.lock
# The lock pins torch's version; on this machine pip takes the local CPU wheel. Elsewhere on
# Linux, PyPI's torch is the multi-GB CUDA build: for the CPU build, name PyTorch's CPU index,
#   make run TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
BIN := $(VENV)/bin
PIP_INSTALL := $(BIN)/pip install --quiet $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))

.PHONY: run test lint venv lock lock-upgrade test-latest smoke

$(BIN)/photo-tagger: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --requirement $(LOCK)
	# Everything is in place: photo-tagger itself, built with the locked setuptools.
	$(PIP_INSTALL) --no-deps --no-build-isolation --editable .
	$(BIN)/pip check
	touch $@

venv: $(BIN)/photo-tagger

run: venv
	$(BIN)/photo-tagger

# exiftool reads back the XMP sidecars in the tests, and capsh runs the permission tests as
# a normal user would; installed here when missing.
test: venv
	@command -v exiftool >/dev/null || (apt-get update -qq && apt-get install -y -qq libimage-exiftool-perl >/dev/null)
	@command -v capsh >/dev/null || (apt-get update -qq && apt-get install -y -qq libcap2-bin >/dev/null)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/mypy --strict photo_tagger/core
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check .

# The lock after a change to pyproject.toml: today's pins kept, new requirements added.
lock: venv
	bash packaging/lock.sh

# Every package to its newest allowed release (or one: make lock-upgrade PACKAGE=transformers).
lock-upgrade: venv
	bash packaging/lock.sh $(if $(PACKAGE),--upgrade-package $(PACKAGE),--upgrade)

# The deliberate refresh: newest releases, then the whole suite and the packaging smoke test
# (bundle, .deb, install, self-test, removal). An upstream release that breaks the app fails
# here, on the refresh, never on main. Commit the lock only when this passes.
test-latest: lock-upgrade
	$(MAKE) test
	$(MAKE) smoke

smoke: venv
	bash packaging/ci-smoke.sh
