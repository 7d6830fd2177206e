# The two commands: `make dev` runs the whole system locally, `make test` runs every test.
# Both install what they need first (scripts/bootstrap.sh).
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: dev test lint bench report simulate bootstrap

bootstrap:
	@scripts/bootstrap.sh

dev: bootstrap
	PYTHONPATH=. $(PY) -m infra.local.dev

test: bootstrap
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	scripts/check-infra.sh
	cd web && npm test --silent
	PYTHONPATH=. $(PY) -m pytest -q -p no:cacheprovider

bench: bootstrap
	PYTHONPATH=. $(PY) -m bench.run_all

# every benchmark, then bench/results/README.md with charts and the cost per 1M inbound messages
report: bootstrap
	PYTHONPATH=. $(PY) -m bench.report

# make simulate CHANNEL=whatsapp TEXT="hello"   or   make simulate CHANNEL=messenger FILE=path.json
simulate: bootstrap
	PYTHONPATH=. $(PY) -m infra.local.simulate $(CHANNEL) $(if $(FILE),--file $(FILE),) $(if $(TEXT),--text "$(TEXT)",)
