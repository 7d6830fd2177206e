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

# make simulate CHANNEL=whatsapp TEXT="hello" [NAME="Ada Customer"] [FROM=15550123456]
# make simulate CHANNEL=messenger FILE=path.json [AS_IS=1]   (re-addressed to the demo tenant unless AS_IS)
# CHANNEL: messenger, instagram, whatsapp, telegram, twilio (SMS), twilio-whatsapp (WhatsApp through
# Twilio). DRY_RUN=1 prints the body instead of sending it. TEXT, FILE, NAME and FROM reach the
# simulator through the environment, never through the shell's quoting, so quotes, $, `, \ arrive as
# typed: $(value ...) keeps make from expanding them, and they are not exported themselves (make would
# expand an exported command-line variable).
ifneq ($(filter simulate,$(MAKECMDGOALS)),)
unexport TEXT FILE NAME FROM
endif
simulate: export SIMULATE_TEXT := $(value TEXT)
simulate: export SIMULATE_FILE := $(value FILE)
simulate: export SIMULATE_NAME := $(value NAME)
simulate: export SIMULATE_FROM := $(value FROM)
simulate: bootstrap
	PYTHONPATH=. $(PY) -m infra.local.simulate $(CHANNEL) \
	    $(if $(value FILE),--file "$$SIMULATE_FILE") $(if $(value TEXT),--text "$$SIMULATE_TEXT") \
	    $(if $(value NAME),--name "$$SIMULATE_NAME") $(if $(value FROM),--contact "$$SIMULATE_FROM") \
	    $(if $(AS_IS),--as-is) $(if $(DRY_RUN),--dry-run)

# make deploy ENV=staging|prod [DRY_RUN=1] [YES=1]: the whole deployment of an environment, in order
# (scripts/deploy.py; README.md "Deploy"): Terraform, the functions' source, the dashboard with its
# config.json, Hosting, Firestore rules and indexes. DRY_RUN=1 prints every command and runs nothing;
# YES=1 applies the Terraform plan without asking. Needs no bootstrap: the script is standard library.
.PHONY: deploy
DEPLOY_PY = $(if $(wildcard $(PY)),$(PY),python3)
deploy:
	PYTHONPATH=. $(DEPLOY_PY) scripts/deploy.py --env $(ENV) $(if $(DRY_RUN),--dry-run) $(if $(YES),--yes)
