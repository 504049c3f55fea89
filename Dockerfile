# Project image: Airflow 3 + the platform (Spark/Delta, XGBoost, GX, SHAP) with the Delta and S3A jars
# baked in. The same image also runs the Spark standalone master and workers (see docker-compose.yaml),
# so the executors have exactly the driver's Python packages for xgboost.spark and mapInPandas.
#
# The Airflow version below must equal the apache-airflow== pin in requirements.txt
# (tests/test_docker_compose.py checks it).
FROM apache/airflow:3.3.2-python3.11

USER root
# Spark 4.0 needs a Java 17+ runtime. (apache/airflow 3.3.x is Debian bookworm based; on a trixie based
# image use openjdk-21-jre-headless instead, which Spark 4.0 supports too.)
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && ln -sfn "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /usr/lib/jvm/java-17 \
    && apt-get autoremove -yqq --purge \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*
ENV JAVA_HOME=/usr/lib/jvm/java-17

USER airflow
# Install Airflow's own version alongside the lock so pip can never up- or downgrade the image's Airflow.
COPY --chown=airflow:root requirements.txt /requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt

# The image has no .git (.dockerignore drops it): the commit is baked in for lineage and the registry.
ARG CODE_VERSION=unknown
ENV MLP_JARS_DIR=/opt/airflow/.cache/spark-jars \
    MLP_CODE_VERSION=${CODE_VERSION}

COPY --chown=airflow:root pyproject.toml /opt/airflow/pyproject.toml
COPY --chown=airflow:root include/ /opt/airflow/include/
COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
# The platform package, installed in place (editable) so PROJECT_ROOT stays /opt/airflow.
RUN pip install --no-cache-dir --no-deps -e /opt/airflow

# Resolve the Delta jars (and hadoop-aws: the compose stack stores on s3a://, which adds it to the package
# list) once at build time, so containers never reach Maven Central. The manifest written by resolve_jars
# must match the runtime package list, hence the s3a storage root here (its set lives in a subfolder
# of MLP_JARS_DIR); the Ivy caches are dropped.
RUN MLP_STORAGE_ROOT=s3a://lakehouse/mlp python -c "from mlplatform.io.spark import resolve_jars; resolve_jars()" \
    && rm -rf /opt/airflow/.cache/ivy* \
    && mkdir -p /opt/airflow/auth
