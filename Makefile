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

# redis-server from the system packages when it is missing (as root); else say what to do.
define ensure_redis
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else \
	    echo "redis-server is missing: install it (sudo apt-get install redis-server, brew install redis) $(1)"; $(2) \
	  fi; }
endef

# bubblewrap (the local sandbox) from the system packages when it is missing (as root).
define ensure_bwrap
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "bubblewrap is missing: install it (sudo apt-get install bubblewrap, sudo dnf install bubblewrap) $(1)"; $(2) \
	  fi; }
endef

run: $(STAMP)
	$(call ensure_redis,or set REDIS_URL; falling back to an in-memory store.,true;)
	$(call ensure_bwrap,for a local sandbox; without it the sandbox is off unless HF_TOKEN is set.,true;)
	$(VENV)/bin/ml-intern-bot run

test: $(STAMP)
	$(call ensure_redis,— the tests need it.,exit 1;)
	$(call ensure_bwrap,— the sandbox tests are skipped without it.,true;)
	$(PY) -m pytest

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
	$(call ensure_redis,— the benchmarks need it.,exit 1;)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
