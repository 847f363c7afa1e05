# Everything a newcomer or CI needs: `make demo` and `make test` set up what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.installed

.PHONY: setup system-deps venv demo demo-up demo-down test test-fast lint typecheck rules pytest bench bench-traces bench-backtest fuzz probe fmt clean dist image screenshots

# The package version (pyproject.toml): the image's tag, and the chart's appVersion (helm/sync.py).
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml)

setup: system-deps venv

# Prometheus, Alertmanager and Chromium (the report's browser tests) come from Debian's packages,
# installed only when missing.
system-deps:
	@missing=""; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null || missing="$$missing prometheus-alertmanager"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/python -m monitor.simulate.demo

# The demo's Prometheus and monitor serve left running (state, pids and logs in .demo/), to rerun the
# printed commands and open the report; make demo-down stops them.
demo-up: setup
	$(BIN)/python -m monitor.simulate.demo_up up

demo-down:
	$(BIN)/python -m monitor.simulate.demo_up down

# The report's screenshots in docs/img/, rendered by headless Chromium from the real daemon's pages.
screenshots: setup
	$(BIN)/python -m bench.report_screenshots

lint: venv
	$(BIN)/ruff check monitor tests bench helm
	$(BIN)/ruff format --check monitor tests bench helm
	$(BIN)/python -m monitor.grafana.dashboards --check
	$(BIN)/python -m monitor.schema --check
	$(BIN)/python -m monitor.profiles.generate --check
	$(BIN)/python helm/sync.py --check

typecheck: venv
	$(BIN)/mypy --strict monitor bench

pytest: setup
	$(BIN)/pytest -q

# The monitor's own alerts, then the SLOs' rules (monitor slo generate writes alert_rules/slo/).
rules: system-deps
	promtool check rules alert_rules/*.rules.yml alert_rules/slo/*.rules.yml
	cd alert_rules/tests && promtool test rules *.test.yml
	cd alert_rules/slo/tests && promtool test rules *.test.yml

test: setup lint typecheck rules pytest

# The inner loop, under a minute: units, fakes and in-process servers; no Prometheus, Alertmanager,
# PostgreSQL or subprocesses, nothing slow (the tiers: CONTRIBUTING.md). `make test` runs it all.
FAST := not (slow or prometheus or alertmanager or postgres or subprocess)
test-fast: venv
	$(BIN)/pytest -q -m "$(FAST)"

# A fuzz campaign: 20,000 random examples per parser instead of make test's 60 (docs/testing.md).
fuzz: venv
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q tests/fuzz --hypothesis-show-statistics

# The hardening campaign against a running daemon: a table of probes (bench/README.md).
probe: venv
	$(BIN)/python -m bench.hardening

bench: setup
	$(BIN)/python -m bench.detection

bench-traces: setup
	$(BIN)/python -m bench.traces

# A simulated month backfilled into a real Prometheus, backtested and scored against its truth.
bench-backtest: setup
	$(BIN)/python -m bench.backtest

# The sdist and the wheel, into dist/ (what `pip install` from the repository builds as well).
dist: venv
	$(BIN)/python -m build --outdir dist .

# The image the Helm chart runs by default, deploy-monitor:<version> (docs/helm.md). Needs Docker.
image:
	docker build -t deploy-monitor:$(VERSION) .

fmt: venv
	$(BIN)/ruff format monitor tests bench helm
	$(BIN)/ruff check --fix monitor tests bench helm

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
