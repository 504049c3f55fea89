"""The model catalog inside Airflow: its FastAPI app mounted in the api-server at ``/mlplatform``,
a "Models" entry in the navigation, and a "Model catalog" tab on every DAG run.

Airflow does not guard plugin apps, so every route depends on ``catalog_user``: the caller's JWT
(``Authorization: Bearer`` or the UI's ``_token`` cookie) must be valid, 401 when it is missing
and 403 when it is bad, and the auth manager must let the user view plugins (403 otherwise).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.core_api.security import get_user
from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink
from fastapi import Depends, HTTPException, status

URL_PREFIX = "/mlplatform"


log = logging.getLogger(__name__)


async def catalog_user(user: BaseUser = Depends(get_user)) -> BaseUser:  # noqa: B008 (FastAPI's idiom)
    """The authenticated user, if the auth manager lets them see plugin views."""
    from airflow.api_fastapi.app import get_auth_manager

    if not get_auth_manager().is_authorized_view(access_view=AccessView.PLUGINS, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not allowed to view the model catalog")
    return user


def login_url() -> str:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login()


def catalog_app() -> Any:
    from airflow_glue.storage import use_storage_connection
    from mlplatform.webui.app import create_app

    try:
        use_storage_connection()
    except Exception as exc:  # the catalog still serves its pages; reads will say what is missing
        log.warning("catalog: storage connection unavailable: %s: %s", type(exc).__name__, exc)

    return create_app(user_dependency=catalog_user, login_url=login_url)


#: The tasks whose run has a report in the catalog, by DAG kind: the new version's page (its SHAP
#: report and model card) and the date's drift report; the catalog's run route redirects to it.
REPORT_TASKS = {"training": {"explain", "gate", "promote"}, "scoring": {"check_drift"}}


class CatalogReportLink(BaseOperatorLink):
    """A task's "Report" button: the catalog page of what the task produced, for report tasks."""

    name = "Report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        kind = ti_key.dag_id.rsplit("_", 1)[-1]
        if ti_key.task_id not in REPORT_TASKS.get(kind, ()):
            return ""
        return f"{URL_PREFIX}/runs/{ti_key.dag_id}/{ti_key.run_id}"


class ModelCatalogPlugin(AirflowPlugin):
    """The read-only model catalog: models, versions, lineage, features and the audit trail."""

    name = "mlplatform_catalog"
    global_operator_extra_links = [CatalogReportLink()]
    fastapi_apps = [{"app": catalog_app(), "url_prefix": URL_PREFIX, "name": "Model catalog"}]
    external_views = [
        {
            "name": "Models",
            "href": f"{URL_PREFIX}/models",
            "destination": "nav",
            "url_route": "models",
        },
        {
            "name": "Model catalog",
            "href": f"{URL_PREFIX}/runs/{{DAG_ID}}/{{RUN_ID}}",
            "destination": "dag_run",
            "url_route": "catalog",
        },
    ]
