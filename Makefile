# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
PUBLIC_URL ?= http://$(HOST):$(PORT)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint install install-test system-test-deps bench bench-deps setup translations clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Python packages come from the lock files requirements/*.txt (exact versions and their hashes), the academy itself
# (editable) without dependencies of its own. run.txt: the core and the server, postgresql and redis extras of
# pyproject.toml (production); test.txt: those, the test and the lint extras.
install: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/run.txt
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python scripts/build_catalogues.py

install-test: $(BIN)/python system-test-deps
	$(BIN)/pip install --quiet -r requirements/test.txt
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python scripts/build_catalogues.py
	npm ci --silent --no-audit --no-fund

# Regenerate the lock files after a change of pyproject.toml's dependencies; pins already there are kept unless
# UPGRADE=1. One resolution for every platform and Python 3.11+ (uv's --universal); run.txt takes test.txt's
# versions, so that the tests run what production installs.
UV_VERSION := 0.13.8
LOCK := $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

lock: $(BIN)/python
	$(BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	$(LOCK) --extra test --extra lint -o requirements/test.txt
	$(LOCK) --extra server --extra postgresql --extra redis -c requirements/test.txt -o requirements/run.txt

# Debian's chromium-headless-shell drives the browser tests (Playwright's own browser download is not used), with
# axe-core from npm (package.json) checking accessibility; scripts/ci-services runs a throwaway PostgreSQL 15 and
# redis-server next to the suite.
system-test-deps:
	@missing=""; \
	command -v chromium-headless-shell >/dev/null 2>&1 || missing="$$missing chromium-headless-shell"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	[ -x /usr/lib/postgresql/15/bin/initdb ] || command -v initdb >/dev/null 2>&1 || missing="$$missing postgresql-15"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	[ -z "$$missing" ] || { echo "Installing$$missing"; $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; }

# The benchmarks (benchmarks/README.md) load the servers with Debian's wrk (as many requests as they answer) and hey
# (a fixed rate). `make bench` runs them all; BENCH_ARGS=--quick for a short run that shows that everything works.
bench-deps:
	@missing=""; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	command -v hey >/dev/null 2>&1 || missing="$$missing hey"; \
	[ -z "$$missing" ] || { echo "Installing$$missing"; $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; }

bench: install-test bench-deps
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

# Apply migrations, load the course content and the demo accounts (printed), then serve.
setup: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi content sync
	$(BIN)/flask --app wsgi demo $(if $(DEMO_PASSWORD),--password "$(DEMO_PASSWORD)")

# The job worker (e-mail, report files, large imports) runs beside the development server and stops with it.
run: setup
	@echo "The academy is at $(PUBLIC_URL)/"
	@export PUBLIC_URL="$(PUBLIC_URL)"; \
	$(BIN)/flask --app wsgi jobs worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

# The whole suite twice: on PostgreSQL 15 with Redis, then on SQLite without the tests that need those servers (markers
# multiworker and postgresql), those that touch no database (no_database: their answer is the same on both) and the
# browser journeys (browser: what they add to the rest of the suite, the pages' scripts, styles, focus and
# accessibility in Chromium, does not depend on the database; every request they make is tested on both databases
# without a browser); the second run happens even if the first fails. Each run spreads the test files over
# PYTEST_WORKERS processes (pytest-xdist; tests/conftest.py gives each its own database): four on two cores, since many
# tests wait for servers, browsers and clocks rather than compute; PYTEST_WORKERS=0 runs in one.
SQLITE_MARKERS := not multiworker and not postgresql and not no_database and not browser
PYTEST_WORKERS ?= 4
XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

# Compiled modules are kept between the runs and the processes they start (a machine may set PYTHONDONTWRITEBYTECODE).
test: install-test
	@unset PYTHONDONTWRITEBYTECODE; status=0; start=$$(date +%s); \
	echo "== run 1/2: PostgreSQL 15 + Redis (scripts/ci-services), the whole suite =="; \
	bash scripts/ci-services $(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS) || status=1; \
	middle=$$(date +%s); \
	echo "== run 2/2: SQLite, the whole suite but -m \"$(SQLITE_MARKERS)\" =="; \
	env -u TEST_DATABASE_URL -u TEST_REDIS_URL $(BIN)/python -m pytest $(XDIST) -m "$(SQLITE_MARKERS)" $(PYTEST_ARGS) || status=1; \
	end=$$(date +%s); \
	echo "== PostgreSQL + Redis: $$((middle - start)) s; SQLite: $$((end - middle)) s =="; \
	$(MAKE) --no-print-directory lint || status=1; \
	exit $$status

# The code's shape: layers (import-linter, docs/architecture.md), lint and format (ruff), types (mypy).
lint:
	@status=0; \
	echo "== lint: import layers, ruff, mypy =="; \
	$(BIN)/lint-imports --no-cache || status=1; \
	$(BIN)/ruff check academy deploy || status=1; \
	$(BIN)/ruff format --check academy deploy || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

# After a change of the interface's messages: extract them, add the new ones to every catalogue (to translate:
# scripts/check_catalogue.py lists what is missing), and build the catalogues again.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location --sort-output --project academy \
		--copyright-holder "Western Balkans Cybersecurity Academy" -o academy/translations/messages.pot .
	$(BIN)/pybabel update -i academy/translations/messages.pot -d academy/translations --no-fuzzy-matching \
		--ignore-obsolete --width 120
	$(BIN)/python scripts/build_catalogues.py

clean:
	rm -rf $(VENV) instance .pytest_cache
