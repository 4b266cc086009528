# Two entry points on a fresh machine: `make demo` and `make test`. Each creates .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# one data file per process (the CLI subprocesses and servers measure too), combined after the run
COVERAGE := COVERAGE_FILE=$(CURDIR)/.coverage $(BIN)/coverage
# strict editable installs expose only the files present at install time: reinstall when the file set changes
FILESET := $(shell { cat pyproject.toml; find compiler runtime specs templates -type f \( -name '*.py' -o -name '*.j2' -o -name '*.css' -o -name '*.js' \) | LC_ALL=C sort; } | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(FILESET)
# the commands the tests start run as installed ones do: with bytecode caches, not recompiled by each process
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install demo lint test test-fast test-fresh bench mutate clean

install: $(STAMP)

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing mlform into $(VENV) ..."
	@flock $(VENV)/.lock $(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]' --config-settings editable_mode=strict
	@rm -f $(VENV)/.installed-* && touch $@

# The main job on the bundled example: generated files go to build/demo, state and models to examples/iris/.mlform
demo: install
	$(BIN)/mlform validate examples
	$(BIN)/mlform graph examples/iris --env dev
	$(BIN)/mlform plan examples/iris --env dev --artifacts-dir build/demo --out build/demo/dev.plan
	$(BIN)/mlform apply build/demo/dev.plan
	$(BIN)/mlform plan examples/iris --env dev --artifacts-dir build/demo --detailed-exitcode
	$(BIN)/mlform monitor examples/iris --env dev --out build/demo/monitor
	$(BIN)/mlform models list examples/iris
	$(BIN)/mlform card examples/iris --env dev --format html --output build/demo/iris-card.html
	$(BIN)/mlform audit examples/iris --verify

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# the full run measures branch coverage and fails under the floor (`fail_under` in pyproject.toml)
test: lint
	$(COVERAGE) erase
	$(COVERAGE) run -m pytest
	$(COVERAGE) combine -q
	$(COVERAGE) html -q --fail-under=0
	@echo "branch coverage of mlform (per file: build/coverage/index.html, or \`$(BIN)/coverage report -m\`):"
	$(COVERAGE) report --format=total

test-fast: install
	$(BIN)/python -m pytest -m "not integration"

# the quick subset in a Debian container with only Python 3, make and git (installs from the package index)
test-fresh: install
	$(BIN)/python -m pytest -m fresh

bench: install
	$(BIN)/python benchmarks/run.py

# slow (a test run per mutant): not part of `make test`. A fixed-seed sample of mutants per module by default;
# `make mutate MUTATE=--all` tries every mutant, `MUTATE="--max 60 --seed 2"` another sample
MUTATE ?=
mutate: install
	nice -n 10 $(BIN)/python benchmarks/mutate.py $(MUTATE)

clean:
	rm -rf $(VENV) build dist .coverage .coverage.* .pytest_cache .hypothesis benchmarks/.venvs examples/*/.mlform
