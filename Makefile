# HW12 autograded package. The first two targets are the README's two commands.
#   make grade   set up, build, grade the reference solutions (per-question table, results*.json)
#   make test    set up, build, run the project's test suite and `autograder validate`
PYTHON_BOOT ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-12)
# The Gradescope grading environment (CPU-only torch), used by `python -m autograder simulate`.
VENV_CPU    ?= .venv-cpu
STAMP_CPU   := $(VENV_CPU)/.installed-$(shell sha256sum requirements-grading-cpu.txt | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: grade test build venv venv-cpu validate test-all test-gradescope bench clean

grade: build
	$(PY) -m autograder grade --output results.json

# Two passes: the Gradescope simulations each run under a half-core CPU quota, so four at a time
# fill the two cores.
test: build venv-cpu
	$(PY) -m pytest -q -n 2 -m "not slow and not gradescope" $(PYTEST_ARGS)
	$(PY) -m pytest -q -n 4 -m "gradescope and not slow" $(PYTEST_ARGS)
	$(PY) -m autograder validate --jobs 2 --quiet

test-all: build venv-cpu  ## also the slow tests (full notebooks, fresh-clone checks, Python 3.13)
	$(PY) -m pytest -q -n 2 -m "not gradescope" $(PYTEST_ARGS)
	$(PY) -m pytest -q -n 4 -m "gradescope" $(PYTEST_ARGS)
	$(PY) -m autograder validate --jobs 2

test-gradescope: build venv-cpu  ## only the Gradescope simulations
	$(PY) -m pytest -q -n 4 -m "gradescope" $(PYTEST_ARGS)

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

venv-cpu: $(STAMP_CPU)

$(STAMP_CPU): requirements-grading-cpu.txt
	test -x $(VENV_CPU)/bin/python || $(PYTHON_BOOT) -m venv $(VENV_CPU)
	$(VENV_CPU)/bin/python -m pip install --quiet --upgrade pip==25.3
	$(VENV_CPU)/bin/python -m pip install --quiet -r requirements-grading-cpu.txt
	rm -f $(VENV_CPU)/.installed-*
	touch $(STAMP_CPU)

bench: build  ## figures for BENCHMARKS.md (see that file for each command)
	$(PY) benchmarks/grading_budget.py

clean:
	rm -rf dist results*.json graded .pytest_cache
