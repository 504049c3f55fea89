"""The model catalog's pages over the small delta-rs lake, through FastAPI's test client.

The user dependency here stands in for Airflow's JWT check (tested against a real api-server in
``tests/airflow/test_catalog_auth.py``); these tests assert what each page shows.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from mlplatform.config.settings import Settings
from mlplatform.governance.audit import read_audit
from mlplatform.webui.app import create_app
from tests.support import PROJECT_ROOT
from tests.unit.small_lake import MODEL, TRAIN_RUN


def _reader() -> Any:
    return SimpleNamespace(get_name=lambda: "reader")


@pytest.fixture(scope="module")
def client(lake: str) -> TestClient:
    settings = Settings(storage_root=lake, spec_dir=PROJECT_ROOT / "include" / "specs")
    return TestClient(create_app(settings, user_dependency=_reader), root_path="/mlplatform")


def test_model_list_shows_champion_labelled_auc_drift_and_policy(client: TestClient) -> None:
    data = client.get("/api/models").json()
    (row,) = data["models"]
    assert (row["name"], row["champion"], row["versions"], row["state"]) == (MODEL, 1, 1, "active")
    assert row["labelled"] == {"metric": "AUC", "now": pytest.approx(0.7), "at_registration": 0.81}
    assert row["last_scored"] == "2026-11-04" and row["drift"]["share_drifted"] == 0.5
    assert row["policy"]["degraded"] is True and row["policy"]["retrain"] is False
    html = client.get("/models").text
    assert f'href="/mlplatform/models/{MODEL}"' in html
    assert client.get("/api/models", params={"q": "nothing-like-it"}).json()["total"] == 0


def test_model_page_shows_the_gate_checks_the_approval_and_the_series(client: TestClient) -> None:
    html = client.get(f"/models/{MODEL}").text
    assert "min_auc" in html and "0.7" in html and "ship it" in html and "lead" in html
    assert "approved: better than nothing" in html
    assert "[0.7800, 0.8400] (95%)" in html
    assert html.count("<polyline") >= 2  # drift share and labelled AUC over time
    assert client.get("/models/no_such_model").status_code == 404
    assert client.get("/models/bad%20name").status_code == 404


def test_version_page_embeds_shap_and_card_and_names_inputs_and_reproduce(
    client: TestClient, lake: str
) -> None:
    html = client.get(f"/models/{MODEL}/versions/1").text
    assert re.search(r'<img id="shap-beeswarm"[^>]+src="data:image/png;base64,iVBOR', html)
    assert 'id="shap-report"' in html and "churn v1" in html and "<b>tenure</b>" not in html
    assert "ab" * 32 in html and "abc123" in html
    assert f"mlplatform reproduce --model {MODEL} --version 1" in html
    png = client.get(f"/models/{MODEL}/versions/1/beeswarm.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    card = client.get(f"/models/{MODEL}/versions/1/card").text
    assert "churn v1" in card and "<b>tenure</b>" not in card  # the card is escaped, not injected
    reads = read_audit(lake, model=MODEL, actor="reader")
    assert {"shap_beeswarm", "model_card"} <= set(reads["artifact"])
    assert client.get(f"/models/{MODEL}/versions/9").status_code == 404


def test_lineage_graph_links_each_node(client: TestClient) -> None:
    html = client.get(f"/models/{MODEL}/lineage", params={"version": 1}).text
    assert 'id="lineage-graph"' in html
    assert f'href="/mlplatform/models/{MODEL}/versions/1"' in html
    assert "train.csv" in html and "bronze" in html and "2026-11-02" in html


def test_a_training_run_links_to_its_version_and_a_scoring_run_to_its_drift_report(
    client: TestClient,
) -> None:
    found = client.get(f"/runs/{MODEL}_training/{TRAIN_RUN}", follow_redirects=False)
    assert found.status_code == 307
    assert found.headers["location"] == f"/mlplatform/models/{MODEL}/versions/1"
    scored = client.get(f"/runs/{MODEL}_scoring/scheduled__2026-11-04", follow_redirects=False)
    assert scored.headers["location"] == f"/mlplatform/models/{MODEL}/drift/2026-11-04"
    assert "Drift on 2026-11-04" in client.get(f"/models/{MODEL}/drift/2026-11-04").text
    assert client.get(f"/models/{MODEL}/drift/..%2F..%2Fetc").status_code == 404
    assert client.get(f"/runs/{MODEL}_scoring/scheduled__never", follow_redirects=False).status_code == 404


def test_features_and_audit_pages_render_their_rows(client: TestClient) -> None:
    assert "months since signup" in client.get("/features").text
    client.get(f"/models/{MODEL}/versions/1/shap")
    audit = client.get("/audit", params={"user": "reader"}).text
    assert "shap_report" in audit
    assert "shap_report" not in client.get("/audit", params={"user": "someone-else"}).text


def test_every_route_refuses_when_the_user_dependency_refuses(lake: str) -> None:
    def refuse() -> Any:
        raise HTTPException(401, "Not authenticated")

    app = create_app(Settings(storage_root=lake), user_dependency=refuse)
    client = TestClient(app)
    paths = [r.path for r in app.routes if getattr(r, "include_in_schema", False)]
    assert len(paths) >= 10
    for path in paths:
        concrete = (
            path.replace("{model}", MODEL)
            .replace("{version}", "1")
            .replace("{run_id:path}", "x")
            .replace("{dag_id}", "d")
        )
        concrete = concrete.replace("{score_date}", "2026-11-04")
        assert client.get(concrete).status_code == 401, path


def test_the_catalog_has_no_anonymous_mode() -> None:
    with pytest.raises(ValueError, match="authentication dependency"):
        create_app(Settings())
