# Every target that runs code depends on `venv`, so a fresh clone needs nothing by hand.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LANGS  := en zh_Hans zh_Hant es ru ar

.PHONY: venv lock catalogs extract update-catalogs lint typecheck unit test test-long run shell replay graph bench bench-campaign profile clean

LOCK   := requirements.lock

# Installs exactly what requirements.lock pins (with hashes), then the project itself.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## Pin every dependency, with hashes, after changing pyproject.toml (then commit both).
lock: venv
	$(BIN)/pip-compile --quiet --generate-hashes --extra dev --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links -o $(LOCK) pyproject.toml

## Compile the gettext catalogs (.po -> .mo); the bot refuses to run without them.
catalogs: venv
	$(BIN)/pybabel compile -d locales -D messages 2>&1 | { grep -v "^compiling catalog" || true; }
	$(BIN)/python -m bot.i18n.check --compiled

## Pull every message (code and flows/*.yaml) into locales/messages.pot.
extract: venv
	$(BIN)/pybabel extract -F pyproject.toml -k N_ --add-comments=TRANSLATORS: --sort-by-file --no-location --no-wrap \
		--project trialbot --version 1 -o locales/messages.pot .

## Merge the .pot into every language's .po (new messages arrive untranslated). Headers keep no
## dates and no line numbers are written, so branches that add messages merge cleanly.
update-catalogs: extract
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-wrap --ignore-obsolete
	$(BIN)/python -m bot.i18n.source
	sed -i -E '/^"(POT-Creation-Date|PO-Revision-Date|Generated-By): /d' locales/messages.pot locales/*/LC_MESSAGES/messages.po

lint: venv
	$(BIN)/ruff check bot tests $(wildcard benchmarks)
	$(BIN)/ruff format --check bot tests $(wildcard benchmarks)

typecheck: venv
	$(BIN)/mypy bot

unit: export TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
unit: catalogs
	$(BIN)/python -m pytest -q

test: lint typecheck unit

## The long variants too (every kill point on every kind of update, many repeated kills).
test-long: export TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
test-long: catalogs
	$(BIN)/python -m pytest -q -m slow

## A wheel that runs anywhere: the flows and the compiled catalogs inside it (dist/).
.PHONY: wheel
wheel: catalogs
	$(BIN)/python -m pip wheel -q --no-deps --no-build-isolation --no-index -w dist .

run: catalogs
	$(BIN)/python -m bot run

shell: catalogs
	$(BIN)/python -m bot shell $(if $(LANG_TAG),--lang $(LANG_TAG),)

## The study team's 18 example profiles ship with the repository (tests/data/examples).
replay: catalogs
	$(BIN)/python -m bot replay tests/data/examples/example-*.json

## Write the flow's state machine as a web page (build/flow.html) and print where it is.
graph: venv
	$(BIN)/python -m bot graph -o build/flow.html

bench: catalogs
	$(BIN)/python -m benchmarks

## The outreach campaign alone (issue #19), on SQLite and PostgreSQL: PATIENTS=1000 SPEED=...
bench-campaign: catalogs
	$(BIN)/python -m benchmarks --only campaign $(if $(PATIENTS),--patients $(PATIENTS),) $(if $(SPEED),--speed $(SPEED),)

## Time each stage of an update on the full path (storage, engine, replies), beside the floor.
profile: catalogs
	$(BIN)/python -m benchmarks.profile --stages

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
	find locales -name '*.mo' -delete
