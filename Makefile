# Two commands for a newcomer: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .setup-stamps
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test setup lint format check-migrations clean

setup: $(STAMPS)/python $(STAMPS)/npm
	@scripts/system-packages

$(STAMPS)/python: requirements-dev.txt
	@mkdir -p $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

$(STAMPS)/npm: package.json package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Local development settings (git-ignored): DEBUG on and a random SECRET_KEY, read by
# config/settings.py so that manage.py commands work here too. Never deploy this file.
.env:
	@printf '# Local development only: never deploy this file.\nDEBUG=1\nSECRET_KEY=%s\nAUDIT_KEY=%s\n' \
		"$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
		"$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))')" > $@
	@echo "Wrote .env for local development (DEBUG=1)."

# Every address printed (sign-in, demo links, emails, the PDFs' verification address) follows
# PORT. The demo's emails go to files in var/run/mail, so they do not push the sign-in line
# off the screen; the sign-in line is printed last, just before the server starts.
run: export SITE_URL ?= http://$(HOST):$(PORT)
run: export EMAIL_BACKEND ?= django.core.mail.backends.filebased.EmailBackend
run: export EMAIL_FILE_PATH ?= $(CURDIR)/var/run/mail
# How patients reach the team, shown on their pages and emails: a number reserved for drama
# (Ofcom) and a reserved domain, so that nobody real is called or written to.
run: export HOSPITAL_PHONE ?= 020 7946 0000
run: export HOSPITAL_EMAIL ?= consent-team@example.invalid
run: setup .env
	$(PY) manage.py migrate --no-input
	$(PY) manage.py load_procedures --skip-existing
	$(PY) manage.py ensure_dev_certificate
	$(PY) manage.py ensure_demo_surgeon --verbosity 0
	$(PY) manage.py seed_demo
	@echo "Emails (the demo's and the app's) are written to $(EMAIL_FILE_PATH)/."
	@echo
	$(PY) manage.py ensure_demo_surgeon
	$(PY) manage.py runserver $(HOST):$(PORT)

# The production profile on this machine: PostgreSQL, DEBUG off, gunicorn (scripts/serve says
# how). Plain HTTP, so secure cookies are off here. DATABASE_URL overrides the database.
serve: setup .env
	HOST=$(HOST) PORT=$(PORT) scripts/serve

# Branch coverage is measured in every run (configured in pyproject.toml, [tool.coverage]).
# The whole suite must reach the floor there (fail_under); a run that picks tests with
# PYTEST_ARGS reports its coverage without the floor.
test: setup
	@scripts/system-packages --browser
	@rm -f .coverage .coverage.*
	$(PY) -m coverage run -m pytest $(PYTEST_ARGS)
	@$(PY) -m coverage combine --quiet
	$(PY) -m coverage report $(if $(PYTEST_ARGS),--fail-under=0)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check-migrations:
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) node_modules $(STAMPS) staticfiles .coverage .coverage.* htmlcov
