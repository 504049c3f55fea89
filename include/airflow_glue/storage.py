"""Object-store credentials from an Airflow connection, and worker names for the task instances.

The platform reads S3 credentials from boto3's and Hadoop's usual places (the environment, an
instance role). A team that keeps them in Airflow names the connection in ``MLP_S3_CONNECTION_ID``
(an ``aws`` connection: login = access key id, password = secret key, extra ``endpoint_url`` for
an S3-compatible server); each task and the catalog export it to their own process environment
before anything touches storage. Specs never carry credentials.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def _connection(conn_id: str):  # type: ignore[no-untyped-def]
    try:
        from airflow.sdk import Connection

        return Connection.get(conn_id)
    except Exception:  # outside a task (the api-server): Airflow's secrets backends directly
        from airflow.models.connection import Connection as StoredConnection

        return StoredConnection.get_connection_from_secrets(conn_id)


def use_storage_connection() -> str | None:
    """Export the credentials of ``MLP_S3_CONNECTION_ID`` (when set); returns the connection id."""
    from mlplatform.config.settings import get_settings

    conn_id = get_settings().s3_connection_id
    if not conn_id:
        return None
    conn = _connection(conn_id)
    if conn.login:
        os.environ["AWS_ACCESS_KEY_ID"] = conn.login
    if conn.password:
        os.environ["AWS_SECRET_ACCESS_KEY"] = conn.password
    extra = conn.extra_dejson or {}
    if extra.get("region_name"):
        os.environ["AWS_DEFAULT_REGION"] = str(extra["region_name"])
    if extra.get("endpoint_url"):
        os.environ["MLP_S3_ENDPOINT_URL"] = str(extra["endpoint_url"])
    get_settings.cache_clear()
    log.info(
        "storage credentials from Airflow connection '%s' (access key id %s…)",
        conn_id,
        (conn.login or "")[:4],
    )
    return conn_id


def worker_hostname() -> str:
    """This worker's name for its task instances (``AIRFLOW__CORE__HOSTNAME_CALLABLE``).

    ``MLP_WORKER_HOSTNAME`` when set, so that several workers sharing one machine (the stack test,
    a laptop) stay apart in the UI and the metadata database; otherwise the machine's FQDN.
    """
    return os.environ.get("MLP_WORKER_HOSTNAME") or socket.getfqdn()
