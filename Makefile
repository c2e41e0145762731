# HW12 autograded package. The first two targets are the README's two commands.
#   make grade   set up, build, grade the reference solutions (per-question table, results*.json)
#   make test    set up, build, run the project's test suite and `autograder validate`
PYTHON_BOOT ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: grade test build venv validate test-all bench clean

grade: build
	$(PY) -m autograder grade --output results.json

test: build
	$(PY) -m pytest -q -n 2 $(PYTEST_ARGS)
	$(PY) -m autograder validate --jobs 2 --quiet

test-all: build  ## also the slow tests (full notebooks, fresh-clone checks)
	$(PY) -m pytest -q -n 2 -m "" $(PYTEST_ARGS)
	$(PY) -m autograder validate --jobs 2

build: venv
	$(PY) -m autograder build

validate: build
	$(PY) -m autograder validate

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

bench: build  ## figures for BENCHMARKS.md (see that file for each command)
	$(PY) benchmarks/grading_budget.py

clean:
	rm -rf dist results*.json graded .pytest_cache
