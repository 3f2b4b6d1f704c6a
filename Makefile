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

.PHONY: report test install quick-report

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

install: $(STAMP)

report: $(STAMP)
	$(BIN)/srna-nb run --profile $(PROFILE)

quick-report: $(STAMP)
	$(BIN)/srna-nb run --profile quick

test: $(STAMP)
	$(BIN)/python -m pytest
