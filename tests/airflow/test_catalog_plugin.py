"""The catalog plugin as Airflow loads it: its app, its views and its permission check.

Authentication against a running api-server (missing and forged tokens, a browser that signs in)
is tested in ``tests/e2e/test_rest_api_retraining.py``.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from fastapi import HTTPException

from tests.support import PROJECT_ROOT


def test_the_plugins_folder_gives_airflow_the_catalog_app_and_its_views() -> None:
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    from airflow_glue.catalog_plugin import URL_PREFIX, ModelCatalogPlugin, catalog_user

    source = (PROJECT_ROOT / "plugins" / "mlplatform_catalog.py").read_text()
    assert "from airflow_glue.catalog_plugin import ModelCatalogPlugin" in source
    (app,) = ModelCatalogPlugin.fastapi_apps
    assert app["url_prefix"] == URL_PREFIX == "/mlplatform"
    assert [d.dependency for d in app["app"].router.dependencies] == [catalog_user]
    views = [ExternalViewResponse.model_validate(v) for v in ModelCatalogPlugin.external_views]
    assert {(v.destination, v.href) for v in views} == {
        ("nav", "/mlplatform/models"),
        ("dag_run", "/mlplatform/runs/{DAG_ID}/{RUN_ID}"),
    }


@pytest.mark.parametrize("allowed", [True, False])
def test_a_user_the_auth_manager_does_not_let_see_plugins_is_refused(monkeypatch, allowed: bool) -> None:  # type: ignore[no-untyped-def]
    import airflow.api_fastapi.app as api_app

    from airflow_glue.catalog_plugin import catalog_user

    asked = []
    manager = SimpleNamespace(is_authorized_view=lambda **kw: asked.append(kw) or allowed)
    monkeypatch.setattr(api_app, "get_auth_manager", lambda: manager)
    user = SimpleNamespace(get_name=lambda: "ana")
    if allowed:
        assert asyncio.run(catalog_user(user)) is user
    else:
        with pytest.raises(HTTPException) as refused:
            asyncio.run(catalog_user(user))
        assert refused.value.status_code == 403
    assert asked[0]["access_view"].name == "PLUGINS" and asked[0]["user"] is user


def test_report_tasks_link_to_their_catalog_page_and_other_tasks_have_no_link() -> None:
    from airflow import plugins_manager
    from airflow_glue.catalog_plugin import CatalogReportLink

    link = CatalogReportLink()

    def key(dag_id: str, task_id: str) -> SimpleNamespace:
        return SimpleNamespace(dag_id=dag_id, task_id=task_id, run_id="manual__2026-11-02", try_number=1)

    run_page = "/mlplatform/runs/churn_demo_training/manual__2026-11-02"
    assert link.get_link(None, ti_key=key("churn_demo_training", "explain")) == run_page
    drift = link.get_link(None, ti_key=key("churn_demo_scoring", "check_drift"))
    assert drift == "/mlplatform/runs/churn_demo_scoring/manual__2026-11-02"
    assert link.get_link(None, ti_key=key("churn_demo_scoring", "ingest")) == ""
    assert link.get_link(None, ti_key=key("someone_elses_dag", "explain")) == ""
    names = [type(x).__name__ for x in plugins_manager.get_global_operator_extra_links()]
    assert "CatalogReportLink" in names, "Airflow loads the link from the plugins folder"


def test_the_trigger_listener_is_registered_from_the_plugins_folder() -> None:
    from airflow.listeners.listener import get_listener_manager

    import airflow_glue.trigger as trigger

    source = (PROJECT_ROOT / "plugins" / "mlplatform_trigger.py").read_text()
    assert "listeners = [trigger]" in source
    from airflow import plugins_manager

    plugins_manager.integrate_listener_plugins(get_listener_manager())
    assert get_listener_manager().pm.is_registered(trigger)
