# The two commands a newcomer needs: `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Every target here serves a developer's machine, so debug is on (unset means production);
# the secret key and the field encryption key are then made once and kept in var/.
export DJANGO_DEBUG ?= true

# Unless the environment points at the real systems, `make run` wires the service to the
# local MediRecords sandbox and the local fake of Microsoft Graph.
# manage.py reads the same files on the same conditions (config/local_env.py): keep them in step.
LOCAL_ENV_FILES := $(if $(MEDIRECORDS_API_URL),,config/sandbox.env) $(if $(AZURE_CLIENT_ID),,config/fake-graph.env)
comma := ,
space := $(empty) $(empty)

.PHONY: run test lint format install install-dev clean simulate-booking

run: $(VENV)/.installed-runtime
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_practice $(LOCAL_ENV_FILES:%=--env-file %)
	$(BIN)/python manage.py ensure_staff_login
	@echo "Serving http://127.0.0.1:$(PORT)/ (staff console at /admin/); Ctrl-C stops everything."
	PORT=$(PORT) $(BIN)/honcho --procfile Procfile $(if $(LOCAL_ENV_FILES),--env $(subst $(space),$(comma),$(strip $(LOCAL_ENV_FILES)))) start

# Beside a running `make run`: a Calendly-style booking appears in the fake Office 365 calendar
# and travels the whole pipeline. PRACTITIONER is a slug (consultant, dr-dia, doctor-2, nurse, ramona).
PRACTITIONER ?= dr-dia
simulate-booking: $(VENV)/.installed-runtime
	set -a; . config/fake-graph.env; set +a; $(BIN)/python manage.py simulate_booking --practitioner $(PRACTITIONER)

test: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

install: $(VENV)/.installed-runtime
install-dev: $(VENV)/.installed-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-runtime

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
