# Two commands: `make demo` (the whole model lifecycle through Airflow) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
UV := $(PYTHON) -m uv

export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export AIRFLOW__LOGGING__LOGGING_LEVEL ?= INFO
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS := admin:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE := $(AIRFLOW_HOME)/simple_auth_manager_passwords.json
export GX_ANALYTICS_ENABLED := False
export PYSPARK_PYTHON := $(BIN)/python
export PYSPARK_DRIVER_PYTHON := $(BIN)/python

DEMO_TRAIN_DATE ?= 2026-11-01
DEMO_CLEAN_DATE ?= 2026-11-02
DEMO_DRIFT_DATE ?= 2026-11-03
DEMO_DRIFT_DATE_2 ?= 2026-11-04
DEMO_DRIFT_DATE_3 ?= 2026-11-05
DEMO_MODEL ?= churn_demo
UI_PORT ?= 8080

.PHONY: help check-java install jars airflow-init demo demo-data run test test-stack test-fast test-unit lint format ui compose-env bench clean

help:
	@echo "make demo   - install, initialise Airflow, run the whole lifecycle of the demo model"
	@echo "make test   - install, initialise Airflow, run the test suite (all but the cluster stack test)"
	@echo "make test-stack - the cluster stack test: Postgres, Redis, S3, Spark standalone, 2 Celery workers"
	@echo "make ui     - Airflow UI, scheduler, dag-processor, triggerer on http://127.0.0.1:$(UI_PORT) (user admin)"
	@echo "make run DAG=<model>_training DATE=YYYY-MM-DD - run one model's DAG through Airflow"
	@echo "make lint   - ruff check and format check"
	@echo "make bench  - benchmarks (results in bench/results/)"

check-java:
	@command -v java >/dev/null 2>&1 || [ -x "$$JAVA_HOME/bin/java" ] || { \
	  echo "ERROR: Java 17+ is required by Spark but 'java' was not found."; \
	  echo "       Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless   macOS: brew install openjdk@17"; \
	  exit 1; }
	@v=$$(java -version 2>&1 | awk -F'"' '/version/ {print $$2}' | cut -d. -f1); \
	  [ "$${v:-0}" -ge 17 ] || { echo "ERROR: Java 17+ is required by Spark; found Java $$v."; exit 1; }

$(VENV)/.installed: requirements.txt pyproject.toml
	@[ -n "$(PYTHON)" ] || { echo "ERROR: Python 3.11 is required (python3.11 or python3 on PATH)."; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || \
	  { echo "ERROR: Python 3.11 is required; $(PYTHON) is $$($(PYTHON) --version)."; exit 1; }
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@[ -x $(BIN)/python ] || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python -r requirements.txt
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

install: $(VENV)/.installed

$(CURDIR)/.cache/spark-jars/packages.txt: | $(VENV)/.installed
	$(BIN)/python -m mlplatform.cli jars >/dev/null

jars: check-java install $(CURDIR)/.cache/spark-jars/packages.txt

$(AIRFLOW_HOME)/.initialised: $(VENV)/.installed
	@mkdir -p $(AIRFLOW_HOME)
	@[ -s $(AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE) ] || ( umask 077; $(PYTHON) -c \
	  'import json, secrets; print(json.dumps({"admin": secrets.token_urlsafe(12)}))' \
	  > $(AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE) )
	$(BIN)/airflow db migrate >$(AIRFLOW_HOME)/db-migrate.log 2>&1 || { tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1; }
	@touch $@

airflow-init: install $(AIRFLOW_HOME)/.initialised

demo-data: install
	$(BIN)/python -m mlplatform.cli demo-data --model $(DEMO_MODEL) --clean $(DEMO_CLEAN_DATE) --drifted $(DEMO_DRIFT_DATE) $(DEMO_DRIFT_DATE_2) $(DEMO_DRIFT_DATE_3)

demo: check-java jars airflow-init demo-data
	$(BIN)/python scripts/run_dag.py $(DEMO_MODEL)_training $(DEMO_TRAIN_DATE) --conf '{"reason": "make demo: first model"}'
	$(BIN)/python scripts/run_dag.py $(DEMO_MODEL)_scoring $(DEMO_CLEAN_DATE)
	$(BIN)/python scripts/run_dag.py $(DEMO_MODEL)_scoring $(DEMO_DRIFT_DATE)
	$(BIN)/python scripts/run_dag.py $(DEMO_MODEL)_scoring $(DEMO_DRIFT_DATE_2)
	$(BIN)/python scripts/run_dag.py $(DEMO_MODEL)_scoring $(DEMO_DRIFT_DATE_3)
	$(BIN)/python scripts/run_dag.py $(DEMO_MODEL)_training --queued policy__$(DEMO_DRIFT_DATE_3)
	$(BIN)/python -m mlplatform.cli summary --model $(DEMO_MODEL) --dates $(DEMO_CLEAN_DATE) $(DEMO_DRIFT_DATE) $(DEMO_DRIFT_DATE_2) $(DEMO_DRIFT_DATE_3)

# Any model's DAG for a date, e.g. make run DAG=telco_churn_training DATE=2026-11-01 [CONF='{"reason": "x"}']
run: check-java jars airflow-init
	@[ -n "$(DAG)" ] && [ -n "$(DATE)" ] || { echo "usage: make run DAG=<model>_training DATE=YYYY-MM-DD [CONF='{...}']"; exit 2; }
	$(BIN)/mlplatform run $(DAG) $(DATE) $(if $(CONF),--conf '$(CONF)')

# The cluster stack test (tests/stack) runs on its own: make test-stack (see README, "From a laptop to a cluster").
test: check-java jars airflow-init
	$(BIN)/python -m pytest tests -m "not stack"

test-stack: check-java jars airflow-init
	$(BIN)/python -m pytest tests/stack

test-fast: install
	$(BIN)/python -m pytest tests -m "not e2e and not spark"

test-unit: install
	$(BIN)/python -m pytest tests/unit -p tests.isolation_guard

lint: install
	$(BIN)/ruff check include dags plugins tests scripts bench
	$(BIN)/ruff format --check include dags plugins tests scripts bench

format: install
	$(BIN)/ruff format include dags plugins tests scripts bench
	$(BIN)/ruff check --fix include dags plugins tests scripts bench

ui: check-java jars airflow-init
	@$(BIN)/airflow dags reserialize >$(AIRFLOW_HOME)/reserialize.log 2>&1
	@$(BIN)/airflow dags unpause --treat-dag-id-as-regex --yes '_training$$' >/dev/null 2>&1 || true
	@echo "Training DAGs are unpaused (they run only when triggered); scoring DAGs stay paused until you toggle them."
	@AIRFLOW__CORE__PARALLELISM=$${AIRFLOW__CORE__PARALLELISM:-4} AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=2 \
	 $(BIN)/python scripts/ui.py --port $(UI_PORT)

# The compose stack's secrets: random, in a git-ignored .env, made once (docker compose refuses to start without them).
compose-env:
	@[ ! -e .env ] || { echo ".env exists; not overwritten"; exit 0; }; umask 077; $(PYTHON) -c '\
	import base64, os, secrets; \
	print("AIRFLOW_JWT_SECRET=" + secrets.token_urlsafe(64)); \
	print("AIRFLOW_FERNET_KEY=" + base64.urlsafe_b64encode(os.urandom(32)).decode()); \
	print("AIRFLOW_ADMIN_PASSWORD=" + secrets.token_urlsafe(12)); \
	print("POSTGRES_PASSWORD=" + secrets.token_urlsafe(24)); \
	print("MINIO_ROOT_PASSWORD=" + secrets.token_urlsafe(24)); \
	print("SPARK_AUTH_SECRET=" + secrets.token_urlsafe(32))' > .env && echo "wrote .env (admin password: AIRFLOW_ADMIN_PASSWORD)"

bench: check-java jars
	$(BIN)/python -m bench.bench_validation_features --rows $${BENCH_ROWS:-1000000}
	$(BIN)/python -m bench.bench_training --rows 100000 $${BENCH_ROWS:-1000000}
	$(BIN)/python -m bench.bench_scoring --rows $${BENCH_ROWS:-1000000}
	$(UV) pip install --quiet --python $(BIN)/python -r requirements-bench.txt
	$(BIN)/python -m bench.bench_drift --rows $${BENCH_ROWS:-1000000}
	$(BIN)/python -m bench.bench_catalog --models $${BENCH_MODELS:-300}

clean:
	rm -rf $(AIRFLOW_HOME) lakehouse test-artifacts
