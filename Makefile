# Two entry points, each self-sufficient on a fresh clone:
#   make report   run the default study on the embedded (simulated) atlas -> reports/index.html
#   make test     run the test suite (locked environment), then the pandas 2 + anndata tests
# Both create .venv with python3 -m venv and (re)install the package when pyproject.toml changes.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.srna_nb-installed
PROFILE ?= default

.PHONY: report test test-interop install lock quick-report browser

# The exact versions every report is made with (requirements.lock), then srna_nb itself on top.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

install: $(STAMP)

# Regenerate the lock from pyproject.toml's ranges with uv (kept pins stay; add --upgrade to move them).
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip compile pyproject.toml --extra test --python $(BIN)/python -o requirements.lock --custom-compile-command "make lock"

# A second environment the way a scverse user would have it: pandas 2 and anndata, resolved by pip
# from pyproject.toml's ranges (no lock); the AnnData, loader, name and regression tests run there.
INTEROP := .venv-interop
INTEROP_TESTS := tests/test_anndata.py tests/test_io.py tests/test_names.py tests/test_regression.py
$(INTEROP)/.srna_nb-installed: pyproject.toml
	@test -x $(INTEROP)/bin/python || $(PYTHON) -m venv $(INTEROP)
	$(INTEROP)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,anndata]'
	@touch $@

test-interop: $(INTEROP)/.srna_nb-installed
	SRNA_NB_REQUIRE_ANNDATA=1 $(INTEROP)/bin/python -m pytest -q -m "not slow" $(INTEROP_TESTS)

report: $(STAMP)
	$(BIN)/srna-nb run --profile $(PROFILE)

quick-report: $(STAMP)
	$(BIN)/srna-nb run --profile quick

# Headless Chromium for the report checks (Debian packages); without root or apt the browser
# tests skip and say why.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver (Debian) for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| echo "make browser: could not install chromium; browser tests will be skipped"; \
	else echo "make browser: chromium/chromedriver missing and no root to install them; browser tests will be skipped"; fi

test: $(STAMP) browser
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-interop
