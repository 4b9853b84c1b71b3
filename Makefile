# make run | make test | make lint | make bench | make wheel  (see README.md)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PORT ?= 8000

.PHONY: install run test lint format migrate bench wheel

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py seed_catalog --if-empty --products 500 --users 50
ifeq ($(DJANGO_DEBUG),1)
	$(PY) manage.py runserver 127.0.0.1:$(PORT)
else
	PORT=$(PORT) $(VENV)/bin/gunicorn project.wsgi:application -c project/gunicorn_conf.py
endif

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m bench.run

# The caching package as a wheel, for other projects (docs/adopting.md).
wheel: install
	$(PY) -m pip wheel --no-deps --no-build-isolation --quiet -w dist .
	rm -rf build *.egg-info
