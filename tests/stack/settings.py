"""The settings that move the platform from a laptop to a cluster, in one place.

The stack test fills them in for its loopback services; ``docker-compose.yaml`` sets the same
names for its containers (``tests/test_docker_compose.py`` checks that the two do not drift apart).
Nothing else changes between the modes: the DAG files and the package code are the same.
"""

from __future__ import annotations

import json

#: Values that are the same on every cluster.
FIXED = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_glue.storage.worker_hostname",
    "MLP_S3_CONNECTION_ID": "mlp_s3",
    "MLP_XGB_NUM_WORKERS": "2",
    # Every node has the project's jar folder at the same path, so no application ships ~560 MB.
    "MLP_SPARK_JARS_ON_NODES": "true",
}

#: Settings whose values name this cluster's hosts, buckets and secrets.
PER_CLUSTER = (
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW_CONN_MLP_S3",
    "MLP_SPARK_MASTER",
    "MLP_STORAGE_ROOT",
    "MLP_SPARK_CONF",
)


def cluster_settings(
    *,
    postgres: str,
    postgres_password: str,
    redis: str,
    redis_password: str,
    spark_master: str,
    spark_secret: str,
    storage_root: str,
    s3_endpoint: str,
    s3_key: str,
    s3_secret: str,
) -> dict[str, str]:
    """Every cluster setting for the given services (``postgres`` and ``redis`` are host:port)."""
    connection = {
        "conn_type": "aws",
        "login": s3_key,
        "password": s3_secret,
        "extra": {"endpoint_url": s3_endpoint},
    }
    spark_conf = {
        # Two cores per application, so two tasks (a scoring and a training run) share the worker.
        "spark.cores.max": "2",
        "spark.executor.memory": "1g",
        "spark.authenticate": "true",
        "spark.authenticate.secret": spark_secret,
    }
    values = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://airflow:{postgres_password}@{postgres}/airflow",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://:{redis_password}@{redis}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://airflow:{postgres_password}@{postgres}/airflow",
        "AIRFLOW_CONN_MLP_S3": json.dumps(connection),
        "MLP_SPARK_MASTER": spark_master,
        "MLP_STORAGE_ROOT": storage_root,
        "MLP_SPARK_CONF": json.dumps(spark_conf),
    }
    assert set(values) == set(PER_CLUSTER)
    return {**FIXED, **values}
