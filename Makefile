# The two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# The service alone (what `make demo` and an operator need), then the test tools.
BASE := $(VENV)/.base
STAMP := $(VENV)/.installed

.PHONY: demo test bench fuzz lint dovecot dnsmasq postfix browser postgres clean

$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $(BASE)

$(STAMP): $(BASE)
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(BASE)
	$(VENV)/bin/esp-coord demo

# Dovecot is installed from Debian's packages when we are root and it is missing;
# elsewhere the Dovecot tests skip with a visible notice.
dovecot:
	@if [ ! -x /usr/sbin/dovecot ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Dovecot from Debian's packages..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd dovecot-lmtpd >/dev/null) \
	      || echo "NOTICE: Dovecot could not be installed; its tests will skip."; \
	  else echo "NOTICE: Dovecot is absent and we are not root; its tests will skip."; fi; \
	fi

# PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`), the platform's
# database (issue 16): started with Debian's cluster tools when it is installed
# but stopped; elsewhere its tests skip with a visible notice (in CI, where
# .ci/run sets ESP_REQUIRE_POSTGRES, they fail instead).
postgres:
	@if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
	  if [ "$$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then \
	    echo "Starting PostgreSQL..."; \
	    pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start \
	      || echo "NOTICE: PostgreSQL could not be started; its tests will skip."; \
	  else echo "NOTICE: PostgreSQL is not answering on 127.0.0.1:5432; its tests will skip."; fi; \
	fi

# dnsmasq, the DNS server of the `check --discover` tests, likewise: Debian's
# dnsmasq-base, the program alone (the dnsmasq package would also start a
# system-wide DNS service on port 53).
dnsmasq:
	@if [ ! -x /usr/sbin/dnsmasq ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing dnsmasq from Debian's packages..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dnsmasq-base >/dev/null) \
	      || echo "NOTICE: dnsmasq could not be installed; its tests will skip."; \
	  else echo "NOTICE: dnsmasq is absent and we are not root; its tests will skip."; fi; \
	fi

# Postfix, the operator-like submission server of tests/e2e/test_operator.py:
# Debian's package without its own configuration (each test writes one), and
# openssl, whose OCSP responder those tests use.
postfix:
	@if [ ! -x /usr/sbin/postfix ] || ! command -v openssl >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Postfix from Debian's packages..."; \
	    (echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	     apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix openssl >/dev/null) \
	      || echo "NOTICE: Postfix could not be installed; its tests will skip."; \
	  else echo "NOTICE: Postfix is absent and we are not root; its tests will skip."; fi; \
	fi

# chromium and poppler-utils: the report's HTML opened in a real browser and
# its PDF rendered to images (tests/e2e/test_report_rendering.py).
browser:
	@if ! command -v chromium >/dev/null || ! command -v pdftoppm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing chromium and poppler-utils from Debian's packages..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null) \
	      || echo "NOTICE: chromium or poppler-utils could not be installed; their tests will skip."; \
	  else echo "NOTICE: chromium or poppler-utils is absent and we are not root; their tests will skip."; fi; \
	fi

test: $(STAMP) dovecot dnsmasq postfix browser postgres
	$(PY) -m pytest

# Benchmarks against the tests' Dovecot + SMTP front (docs/performance.md).
# BENCH_N (default 1000), BENCH_LATENCY, BENCH_REPEAT; BENCH_ARGS for more flags.
bench: $(STAMP) dovecot
	$(PY) -m bench $(BENCH_ARGS)

# Property-based fuzzing of intake, grammar and the Processor with the long
# Hypothesis profile (tests/fuzz/conftest.py); `make test` runs the CI profile.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(PY) -m pytest -q -o timeout=0 tests/fuzz

lint: $(STAMP)
	$(VENV)/bin/ruff check esp_coord plans adapters tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) var/*.db build *.egg-info
