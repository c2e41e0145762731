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

.PHONY: grade test test-extended build confinement gpu-check lint check-release venv venv-cpu venv-313 validate test-all test-gradescope test-313 bench clean

grade: build
	$(PY) -m autograder grade --output results.json

# Two passes: the Gradescope simulations each run under a half-core CPU quota, so four at a time
# fill the two cores.
test: build venv-cpu confinement lint
	$(PY) -m pytest -q -n 2 --dist worksteal --durations=15 -m "not slow and not gradescope and not extended" $(PYTEST_ARGS)
	$(PY) -m pytest -q -n 4 --durations=10 -m "gradescope and not slow and not extended" $(PYTEST_ARGS)
	$(PY) -m autograder validate --jobs 2 --quiet

test-extended: build venv-cpu  ## long checks CI runs after make test (every derivation check can fail; grading under load)
	$(PY) -m pytest -q -n 2 -m "extended and not gradescope" $(PYTEST_ARGS)
	$(PY) -m pytest -q -n 4 -m "extended and gradescope" $(PYTEST_ARGS)

test-all: build venv-cpu  ## also the slow and extended tests (full notebooks, fresh-clone checks, Python 3.13)
	$(PY) -m pytest -q -n 2 -m "not gradescope" $(PYTEST_ARGS)
	$(PY) -m pytest -q -n 4 -m "gradescope" $(PYTEST_ARGS)
	$(PY) -m autograder validate --jobs 2

test-gradescope: build venv-cpu  ## only the Gradescope simulations
	$(PY) -m pytest -q -n 4 -m "gradescope" $(PYTEST_ARGS)

build: venv
	$(PY) -m autograder build

# pyflakes and import order (pyproject.toml) on the grader, the solutions and the tests.
lint: venv
	$(PY) -m ruff check autograder solutions tests benchmarks

# The tests grade hostile code: they need what confines it (bubblewrap; see README "Threat model").
confinement:
	@command -v bwrap >/dev/null || { echo "bubblewrap (bwrap) is missing: the grader confines the students' code with it. Install it (Debian/Ubuntu: sudo apt install bubblewrap) and run make test again."; exit 1; }

# CI runs this first, on a clean checkout: the build must reproduce the committed files exactly
# (assignment/, the answer key, docs/QUESTIONS.md), or the commit forgot to rebuild.
check-release: build
	@changed="$$(git status --porcelain --untracked-files=all -- . ':!dist')"; \
	if [ -n "$$changed" ]; then \
	  echo "$$changed"; \
	  echo "The committed release is stale: run \`python -m autograder build\` and commit the result."; \
	  exit 1; \
	fi

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

# Gradescope's Python (3.13) with the regular torch from the registry (a CUDA build, several GB):
# the simulation's functional run under 3.13 (slow tests; `make test-313`).
VENV_313    ?= .venv-313
PYTHON_313  ?= $(shell command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null || ls -d /root/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | tail -1)
STAMP_313   := $(VENV_313)/.installed-$(shell cat requirements-grading-313.txt | sha256sum | cut -c1-12)

venv-313: $(STAMP_313)

$(STAMP_313): requirements-grading-313.txt
	test -x $(VENV_313)/bin/python || $(PYTHON_313) -m venv $(VENV_313)
	$(VENV_313)/bin/python -m pip install --quiet -r requirements-grading-313.txt
	rm -f $(VENV_313)/.installed-*
	touch $(STAMP_313)

test-313: build venv-cpu venv-313  ## the Gradescope simulation's functional run under Python 3.13
	$(PY) -m pytest -q -n 4 -m "slow and gradescope" -k python_313 $(PYTEST_ARGS)

gpu-check: build  ## on a machine with one GPU: the GPU tier of both parts, confined (BENCHMARKS.md)
	$(PY) benchmarks/gpu_check.py

bench: build  ## figures for BENCHMARKS.md (see that file for each command)
	$(PY) benchmarks/grading_budget.py

clean:
	rm -rf dist results*.json graded .pytest_cache
