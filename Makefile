# The two README commands: `make run` (demo app on the embedded default) and `make test` (whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export REFLEX_TELEMETRY_ENABLED := false
export BUN_INSTALL_CACHE_DIR := $(CURDIR)/.web/.bun-cache

.PHONY: run test lint typecheck unit simulate chromium venv

$(VENV)/bin/python:
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq python3-venv)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

chromium:  # Debian's Chromium for the browser tests, and an emoji font so screenshots show emoji as people see them
	@test -x /usr/bin/chromium -a -d /usr/share/fonts/truetype/noto || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji)

run: $(VENV)/.runtime
	$(BIN)/python -m pkcrm_app.cli migrate
	$(BIN)/python -m pkcrm_app.cli seed-demo
	@echo ""
	@echo "  PK WhatsApp CRM: open http://localhost:3000 and sign in with a demo login above."
	@echo "  Live customer messages: in another shell run  make simulate"
	@echo "  Replies go to the local WhatsApp Cloud API simulator (log: instance/cloud-simulator.log)"
	@echo "  unless PKCRM_WHATSAPP_API_BASE names another API."
	@echo ""
	@if [ -z "$$PKCRM_WHATSAPP_API_BASE" ]; then \
	  mkdir -p instance; $(BIN)/python -m pkcrm_app.cli cloud-simulator --port 8765 > instance/cloud-simulator.log 2>&1 & \
	  export PKCRM_WHATSAPP_API_BASE=http://127.0.0.1:8765; \
	fi; $(BIN)/reflex run --env prod

simulate: $(VENV)/.runtime
	$(BIN)/python -m pkcrm_app.cli simulate

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.dev
	$(BIN)/mypy pkcrm_app

test: $(VENV)/.dev chromium
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy pkcrm_app
	$(BIN)/python -m pytest
