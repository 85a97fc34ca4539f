# Chancery — `make run` serves the demo, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_DATA_DIR := $(CURDIR)/var/test
# Test processes keep their compiled modules (`__pycache__`, ignored by git) even where the
# environment says not to (PYTHONDONTWRITEBYTECODE): each xdist worker, and each server or CLI
# a test starts, otherwise compiled Chancery and rewrote the test modules again (collecting the
# suite: 12 s without the cache, 4 s with it).
PYTEST := env -u PYTHONDONTWRITEBYTECODE CHANCERY_DATA_DIR=$(TEST_DATA_DIR) $(BIN)/python -m pytest
# What a test part needs first; `make test` does it once, before the parts (see `test`).
TEST_SETUP ?= messages

.PHONY: install messages makemessages run lint test test-sqlite test-postgres test-browser clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Chancery needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	@# uv installs the same packages as pip about twice as fast on a clean clone (parallel downloads
	@# and unpacking, bytecode compiled on both cores); pip does it where uv cannot be installed.
	if $(BIN)/python -m pip install -q uv; then \
		$(BIN)/uv pip install -q --python $(BIN)/python --compile-bytecode -e '.[dev]'; \
	else \
		$(BIN)/python -m pip install -q --upgrade pip && $(BIN)/python -m pip install -q -e '.[dev]'; \
	fi
	touch $(STAMP)

install: $(STAMP)

messages: install
	@$(BIN)/python scripts/compile_messages.py

# Re-extract the interface strings (needs GNU gettext); translate, then `make messages`.
makemessages: install
	./scripts/make_messages.sh

run: messages
	$(BIN)/chancery migrate --noinput -v0
	$(BIN)/chancery demo --if-empty
	$(BIN)/chancery serve

lint: install
	$(BIN)/ruff check chancery tests scripts conftest.py
	$(BIN)/mypy chancery
	CHANCERY_DATA_DIR=$(TEST_DATA_DIR) $(BIN)/chancery makemigrations --check --dry-run -v0

test-sqlite: $(TEST_SETUP)
	CHANCERY_TEST_POSTGRES_URL=$(PG_URL) $(PYTEST) -n 2 -m "not browser" -q

# In CI (CI=true) PostgreSQL must answer; elsewhere the run is skipped with a visible message.
test-postgres: $(TEST_SETUP)
	@if DATABASE_URL=$(PG_URL) $(BIN)/python scripts/postgres-available.py; then \
		echo "== PostgreSQL run ($(PG_URL))"; \
		DATABASE_URL=$(PG_URL) $(PYTEST) -n 2 -m "not browser and not engine_independent and not walked_once" --database-tests-only -q; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is required in CI and is not reachable: failing." >&2; exit 1; \
	else \
		echo "!! SKIPPED: the PostgreSQL run (no server at $(PG_URL)). CI runs it."; \
	fi

test-browser: $(TEST_SETUP)
	./scripts/ensure-chromium.sh
	$(PYTEST) -n 2 --dist worksteal -m browser -q

# The four parts run two at a time (each part's output printed whole when it ends): each part
# leaves a core idle part of the time (servers starting, subprocesses, the end of its run), and
# the other part fills it. A failing part fails `make test`. Started in this order so that the two
# slots end together: the SQLite part (the longest) then lint, beside the PostgreSQL then browser
# parts. The messages are compiled before (TEST_SETUP empty below): as a prerequisite of the parts
# they kept both slots waiting, and make filled the free one with lint, first.
test: install messages
	$(MAKE) --no-print-directory -j2 --output-sync=target TEST_SETUP= test-sqlite test-postgres test-browser lint

clean:
	rm -rf $(VENV) var/test test-artifacts
