# Two commands a newcomer needs (see README): `make demo` and `make test`, in either order.
# Both create or reuse the local virtualenv in .venv (VENV=... for another) and install what
# they need: `make demo` only smsengine and its runtime dependencies, `make test` (and lint,
# typecheck, bench) also the dev extras. One stamp file per install says it is done.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP     := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck bench venv clean browser

# The virtualenv itself; order-only below, so its age never triggers a reinstall.
$(PY):
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "smsengine needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Runtime only. A venv that has the dev install (newer than pyproject.toml) has all of it.
$(RUNTIME_STAMP): pyproject.toml | $(PY)
	if [ "$(DEV_STAMP)" -nt pyproject.toml ]; then :; else $(PY) -m pip install --quiet -e .; fi
	touch $(RUNTIME_STAMP)

# The dev extras (tests, linters, type checkers, interop peers), which include the runtime.
$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP) $(RUNTIME_STAMP)

venv: $(DEV_STAMP)

demo: $(RUNTIME_STAMP)
	$(VENV)/bin/smsengine demo

# The whole suite: lint, types, tests. CI runs exactly this.
test: $(DEV_STAMP) lint typecheck browser
	$(PY) -m pytest

# The console's browser tests drive Debian's chromium. Under CI=true (root) it is installed when
# missing, and the tests fail without it; elsewhere they skip, saying why.
browser:
	if [ "$$CI" = true ] && ! command -v chromium >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; \
	fi

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check smsengine tests benchmarks examples

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy

bench: $(DEV_STAMP)
	$(PY) benchmarks/codec.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
