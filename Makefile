# Two entry points, each self-contained on a fresh machine with Python 3.11:
#   make run    install into .venv and train the embedded default (offline)
#   make test   install into .venv and run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[train,test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m inception_jax.main --workdir=$(or $(WORKDIR),runs/default)

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile tests

clean:
	rm -rf $(VENV) runs
