# Two commands for a new user: `make run` and `make test`. Both set up what they need.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# $(call ensure,COMMAND,PACKAGE,HINT,ELSE): PACKAGE from the system packages when COMMAND
# is missing (as root, with apt-get); otherwise say what to install, then run ELSE.
define ensure
	@command -v $(1) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(2)…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	  else \
	    echo "$(1) is missing: install it (sudo apt-get install $(2)) $(3)"; $(4) \
	  fi; }
endef

run: $(STAMP)
	$(call ensure,redis-server,redis-server,or set REDIS_URL; falling back to an in-memory store.,true;)
	$(call ensure,bwrap,bubblewrap,for a local sandbox; without it the sandbox is off unless HF_TOKEN is set.,true;)
	$(VENV)/bin/ml-intern-bot run

test: $(STAMP)
	$(call ensure,redis-server,redis-server,— the tests need it.,exit 1;)
	$(call ensure,bwrap,bubblewrap,— the sandbox tests are skipped without it.,true;)
	$(call ensure,slirp4netns,slirp4netns,— the networked sandbox test is skipped without it.,true;)
	$(PY) -m pytest -n auto --dist loadgroup

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Benchmarks on loopback (~10 min on 2 cores): bench/results/latest.{json,md,png}.
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(call ensure,redis-server,redis-server,— the benchmarks need it.,exit 1;)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
