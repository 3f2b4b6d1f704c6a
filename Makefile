# Two entry points, each self-sufficient on a fresh clone:
#   make report   run the default study on the embedded (simulated) atlas -> reports/index.html
#   make test     run the test suite
# Both create .venv with python3 -m venv and (re)install the package when pyproject.toml changes.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.srna_nb-installed
PROFILE ?= default

.PHONY: report test install quick-report browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

install: $(STAMP)

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
