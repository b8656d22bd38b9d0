# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install install-test system-test-deps setup translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python system-test-deps
	$(BIN)/pip install --quiet -e '.[test]'

# Debian's chromium drives the browser tests (Playwright's own browser download is not used).
system-test-deps:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# Apply migrations, load the course content and the demo accounts (printed), then serve.
setup: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi content sync
	$(BIN)/flask --app wsgi demo $(if $(DEMO_PASSWORD),--password "$(DEMO_PASSWORD)")

run: setup
	@echo "The academy is at http://$(HOST):$(PORT)/"
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -o academy/translations/messages.pot .

clean:
	rm -rf $(VENV) instance .pytest_cache
