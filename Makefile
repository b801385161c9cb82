# vmwctl: make demo (the toolkit on the lab) and make test (what CI runs).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAB := tests/lab/lab
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all venv lab-install lab lab-up lab-down lab-env demo test unit lint bench clean

all: test

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "vmwctl needs Python 3.11 or later ($(PYTHON) is older)"; exit 2; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || \
		{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

lab-install:
	$(LAB) install

# The lab as the guide wants it (check prereqs passes); its profile is .lab/vmwctl.yaml.
lab: venv lab-install
	$(LAB) down
	$(LAB) up

lab-up: lab-install
	$(LAB) down
	$(LAB) up --flat-glance --fresh

lab-down:
	$(LAB) down

lab-env:
	@$(LAB) env

# The guide's steps with vmwctl against a vCenter not yet prepared; the lab keeps running.
demo: venv lab-install
	$(LAB) down
	$(LAB) up --scenario unprepared
	tests/lab/demo

lint: venv
	$(BIN)/ruff check vmwctl tests bench docs completions

test: venv lab-install lint
	$(BIN)/pytest

# The unit tests alone, without the lab: pure rules on inventories built in memory, parsers,
# the CLI; fewer Hypothesis examples (profile 'unit' in tests/conftest.py). Under a minute.
unit: venv
	$(BIN)/pytest tests/unit -q --hypothesis-profile=unit

# Benchmarks print each figure beside its target and a peer; they are not part of make test.
bench: venv lab-install
	$(BIN)/python bench/upload_inspect.py

clean: lab-down
	rm -rf $(VENV) .lab .pytest_cache .ruff_cache .hypothesis
