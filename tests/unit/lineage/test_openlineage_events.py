"""OpenLineage events built from a lineage entry: pure, no JVM, checked through the client's serializer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openlineage.client.serde import Serde

from mlplatform.config.settings import Settings
from mlplatform.config.specs import ModelSpec, load_spec
from mlplatform.core.context import RunContext
from mlplatform.features.feature_catalog import feature_definitions
from mlplatform.lineage.openlineage import (
    LineageEmitter,
    RunState,
    build_event,
    dag_run_uuid,
    dataset_address,
    default_event_file,
    make_transport,
    run_uuid,
)
from mlplatform.lineage.recorder import LineageEntry, commit_metadata

SPECS = Path(__file__).resolve().parents[3] / "include" / "specs"
LAKE = "/lake/delta/models/churn_demo"


def _ctx(task_id: str = "build_features", try_number: int = 1) -> RunContext:
    return RunContext(
        run_id="manual__2024-05-01T02:00:00+00:00",
        dag_id="churn_demo_training",
        task_id=task_id,
        logical_date=datetime(2024, 5, 1, 2, 0, tzinfo=UTC),
        trigger_type="api",
        triggered_by="alice",
        try_number=try_number,
    )


def _spec() -> ModelSpec:
    return load_spec(SPECS / "churn_demo.yaml")


def _json(event) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(Serde.to_json(event))


def _features_entry(spec: ModelSpec | None = None) -> LineageEntry:
    entry = LineageEntry(model_name="churn_demo", model_version=None, spec=spec or _spec())
    entry.read("validated", f"{LAKE}/validated", 3)
    entry.read("labels", "s3a://bucket/lake/delta/platform/labels", None)
    entry.wrote("feature_state", "/lake/staging/churn_demo/run/feature_state.json")
    entry.wrote("features", f"{LAKE}/features", 4)
    return entry


def test_each_step_of_a_task_that_runs_several_is_its_own_run_and_job() -> None:
    ctx = _ctx(task_id="final_scoring")
    events = {}
    for step in ("ingest", "score"):
        entry = LineageEntry(model_name="churn_demo", spec=_spec(), step=step)
        events[step] = [
            _json(build_event(state, ctx, entry)) for state in (RunState.START, RunState.COMPLETE)
        ]
    ingest, score = events["ingest"], events["score"]
    assert ingest[0]["run"]["runId"] == ingest[1]["run"]["runId"] != score[0]["run"]["runId"]
    assert ingest[1]["job"]["name"] == "churn_demo_training.final_scoring.ingest"
    assert score[1]["run"]["facets"]["mlplatform"]["step"] == "score"
    assert run_uuid(ctx) not in {ingest[0]["run"]["runId"], score[0]["run"]["runId"]}


def test_start_and_complete_share_a_deterministic_run_id_under_the_dag_run() -> None:
    ctx, entry = _ctx(), _features_entry()
    start = _json(build_event(RunState.START, ctx, entry, code_version="abc123"))
    done = _json(build_event(RunState.COMPLETE, ctx, entry, code_version="abc123"))
    assert (start["eventType"], done["eventType"]) == ("START", "COMPLETE")
    assert start["run"]["runId"] == done["run"]["runId"] == run_uuid(ctx) == run_uuid(_ctx())
    assert run_uuid(_ctx(try_number=2)) != run_uuid(ctx)
    assert run_uuid(_ctx(task_id="validate")) != run_uuid(ctx)
    assert start["job"] == done["job"] and done["job"]["namespace"] == "mlplatform"
    assert done["job"]["name"] == "churn_demo_training.build_features"
    parent = done["run"]["facets"]["parent"]
    assert parent["job"] == {"namespace": "mlplatform", "name": "churn_demo_training", "facets": {}}
    assert parent["run"]["runId"] == dag_run_uuid(ctx) == dag_run_uuid(_ctx(task_id="train"))
    custom = done["run"]["facets"]["mlplatform"]
    assert custom["trigger_type"] == "api" and custom["triggered_by"] == "alice"
    assert (custom["model_name"], custom["code_version"], custom["try_number"]) == ("churn_demo", "abc123", 1)
    assert done["run"]["facets"]["nominalTime"]["nominalStartTime"] == "2024-05-01T02:00:00+00:00"
    assert done["run"]["facets"]["processing_engine"]["name"] == "spark"
    assert start["inputs"] == [] and start["outputs"] == []
    assert "errorMessage" not in done["run"]["facets"]


def test_datasets_carry_delta_versions_and_catalog_schemas() -> None:
    done = _json(build_event(RunState.COMPLETE, _ctx(), _features_entry()))
    inputs = {d["name"]: d for d in done["inputs"]}
    outputs = {d["name"]: d for d in done["outputs"]}
    validated = inputs[f"{LAKE}/validated"]
    assert validated["namespace"] == "file"
    assert validated["facets"]["version"]["datasetVersion"] == "3"
    columns = [f["name"] for f in validated["facets"]["schema"]["fields"]]
    assert columns[:2] == ["_batch_id", "_row_id"] and {"customer_id", "tenure_months", "contract"} <= set(
        columns
    )
    labels = inputs["lake/delta/platform/labels"]
    assert labels["namespace"] == "s3a://bucket" and "version" not in labels["facets"]
    label_schema = {f["name"]: f.get("type") for f in labels["facets"]["schema"]["fields"]}
    assert label_schema["label"] == "double" and label_schema["label_date"] == "date"
    state = outputs["/lake/staging/churn_demo/run/feature_state.json"]
    assert state["facets"] == {}  # a plain file: neither a Delta version nor a catalog schema
    features = outputs[f"{LAKE}/features"]
    assert features["facets"]["version"]["datasetVersion"] == "4"
    feature_schema = {f["name"]: f.get("type") for f in features["facets"]["schema"]["fields"]}
    assert {"entity_id", "split", *_spec().model_features} <= set(feature_schema)
    assert feature_schema["log_total_charges"] == "double"


def test_column_lineage_maps_each_feature_to_its_validated_source_columns() -> None:
    spec = _spec()
    features = next(
        d
        for d in _json(build_event(RunState.COMPLETE, _ctx(), _features_entry(spec)))["outputs"]
        if d["name"] == f"{LAKE}/features"
    )
    fields = features["facets"]["columnLineage"]["fields"]
    expected = {row["feature_name"]: row["source_columns"] for row in feature_definitions(spec)}
    assert set(expected) <= set(fields)
    for feature, sources in expected.items():
        inputs = fields[feature]["inputFields"]
        assert [i["field"] for i in inputs] == sources
        assert {(i["namespace"], i["name"]) for i in inputs} == {("file", f"{LAKE}/validated")}
    assert [i["field"] for i in fields["charges_per_tenure"]["inputFields"]] == [
        "total_charges",
        "tenure_months",
    ]
    ratio = fields["charges_per_tenure"]["inputFields"][0]["transformations"][0]
    assert ratio["type"] == "DIRECT" and ratio["description"] == "ratio(total_charges, tenure_months)"
    assert fields["entity_id"]["inputFields"][0]["field"] == "customer_id"


def test_column_lineage_names_validated_columns_of_renamed_sources() -> None:
    raw = _spec().model_dump(mode="json")
    raw["columns"]["rename"] = {"Tenure Months": "tenure_months"}
    spec = ModelSpec.model_validate(raw)
    assert (
        "Tenure Months"
        in next(r for r in feature_definitions(spec) if r["feature_name"] == "tenure_months")[
            "source_columns"
        ]
    )
    done = _json(build_event(RunState.COMPLETE, _ctx(), _features_entry(spec)))
    fields = next(d for d in done["outputs"] if d["name"] == f"{LAKE}/features")["facets"]["columnLineage"][
        "fields"
    ]
    assert [i["field"] for i in fields["tenure_months"]["inputFields"]] == ["tenure_months"]


def test_fail_event_carries_the_error_and_what_was_written() -> None:
    entry = LineageEntry(model_name="churn_demo", spec=_spec())
    entry.read("bronze", f"{LAKE}/bronze", 1)
    entry.wrote("quarantine", "/lake/delta/platform/quarantine", 7)
    ctx = _ctx("validate")
    failed = _json(build_event(RunState.FAIL, ctx, entry, error="DataQualityError: too many bad rows"))
    assert failed["eventType"] == "FAIL" and failed["run"]["runId"] == run_uuid(ctx)
    error = failed["run"]["facets"]["errorMessage"]
    assert (
        error["message"] == "DataQualityError: too many bad rows" and error["programmingLanguage"] == "python"
    )
    assert [o["facets"]["version"]["datasetVersion"] for o in failed["outputs"]] == ["7"]


def test_validated_output_carries_the_gx_assertions() -> None:
    entry = LineageEntry(model_name="churn_demo", spec=_spec())
    entry.read("bronze", f"{LAKE}/bronze", 1)
    entry.wrote("validated", f"{LAKE}/validated", 2)
    results = [
        {
            "expectation": "expect_column_values_to_not_be_null",
            "column": "customer_id",
            "success": True,
            "unexpected_count": 0,
            "unexpected_percent": 0.0,
            "element_count": 100,
        },
        {
            "expectation": "expect_column_values_to_be_between",
            "column": "age",
            "success": False,
            "unexpected_count": 3,
            "unexpected_percent": 3.0,
            "element_count": 100,
        },
        {
            "expectation": "duplicate_rows",
            "column": None,
            "success": True,
            "unexpected_count": 0,
            "unexpected_percent": 0.0,
            "element_count": 100,
        },
    ]
    done = _json(build_event(RunState.COMPLETE, _ctx("validate"), entry, assertions=results))
    validated = next(d for d in done["outputs"] if d["name"] == f"{LAKE}/validated")
    assertions = validated["facets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a.get("column"), a["success"]) for a in assertions] == [
        ("expect_column_values_to_not_be_null", "customer_id", True),
        ("expect_column_values_to_be_between", "age", False),
        ("duplicate_rows", None, True),
    ]
    assert assertions[1]["params"]["unexpected_count"] == 3
    bronze = done["inputs"][0]
    assert bronze["inputFacets"]["dataQualityAssertions"]["assertions"] == assertions


def test_register_outputs_the_model_version_with_artifact_and_checksum() -> None:
    entry = LineageEntry(model_name="churn_demo", model_version=2, spec=_spec())
    entry.step_inputs = {"evaluated": {"booster_sha256": "ab" * 32, "batch_id": "train_x"}}
    entry.params["result"] = {"version": 2, "created": True, "batch_id": "train_x", "features_version": 4}
    entry.wrote("model_registry", "/lake/delta/platform/model_registry", 9)
    done = _json(build_event(RunState.COMPLETE, _ctx("register"), entry, storage_root="/lake"))
    model = next(d for d in done["outputs"] if d["name"] == "/lake/models/churn_demo/v2")
    assert model["facets"]["version"]["datasetVersion"] == "2"
    facet = model["facets"]["mlplatform_model_version"]
    assert facet["booster_sha256"] == "ab" * 32 and facet["artifact_uri"] == "/lake/models/churn_demo/v2"
    assert (facet["model_name"], facet["version"], facet["created"]) == ("churn_demo", 2, True)
    assert done["run"]["facets"]["mlplatform"]["model_version"] == 2
    entry.step_inputs = {}
    plain = _json(build_event(RunState.COMPLETE, _ctx("explain"), entry, storage_root="/lake"))
    assert [d["name"] for d in plain["outputs"]] == ["/lake/delta/platform/model_registry"]


@pytest.mark.parametrize(
    ("uri", "address"),
    [
        ("/lake/delta/platform/lineage", ("file", "/lake/delta/platform/lineage")),
        ("file:///lake/x", ("file", "/lake/x")),
        ("s3a://bucket/prefix/delta/x", ("s3a://bucket", "prefix/delta/x")),
    ],
)
def test_dataset_address(uri: str, address: tuple[str, str]) -> None:
    assert dataset_address(uri) == address


def test_transport_follows_the_settings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from openlineage.client.transport.console import ConsoleTransport
    from openlineage.client.transport.file import FileTransport
    from openlineage.client.transport.http import HttpTransport

    local = Settings(storage_root=str(tmp_path / "lake"))
    assert default_event_file(local) == f"{tmp_path}/lake/openlineage/events.jsonl"
    file = make_transport(local)
    assert isinstance(file, FileTransport) and file.config.append
    assert (tmp_path / "lake" / "openlineage").is_dir()
    assert make_transport(Settings(storage_root=str(tmp_path), openlineage_transport="none")) is None
    assert isinstance(make_transport(Settings(openlineage_transport="console")), ConsoleTransport)
    with caplog.at_level("WARNING", logger="mlplatform.lineage"):
        remote = make_transport(Settings(storage_root="s3a://bucket/lake"))
    assert isinstance(remote, ConsoleTransport) and "MLP_OPENLINEAGE_FILE" in caplog.text
    http = make_transport(
        Settings(
            openlineage_transport="http",
            openlineage_url="http://localhost:5000",
            openlineage_api_key="s3cret",
        )
    )
    assert isinstance(http, HttpTransport) and http.url == "http://localhost:5000"
    assert http.endpoint == "api/v1/lineage"
    with pytest.raises(ValueError, match="MLP_OPENLINEAGE_URL"):
        make_transport(Settings(openlineage_transport="http"))


def test_settings_read_the_openlineage_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLP_OPENLINEAGE_TRANSPORT", "HTTP")
    monkeypatch.setenv("MLP_OPENLINEAGE_URL", "http://marquez:5000")
    monkeypatch.setenv("MLP_OPENLINEAGE_API_KEY", "s3cret")
    settings = Settings()
    assert settings.openlineage_transport == "http" and settings.openlineage_url == "http://marquez:5000"
    assert "s3cret" not in repr(settings)


def test_file_transport_appends_one_json_event_per_line(tmp_path: Path) -> None:
    emitter = LineageEmitter.from_settings(Settings(storage_root=str(tmp_path)))
    ctx, entry = _ctx(), _features_entry()
    assert emitter.emit(lambda: build_event(RunState.START, ctx, entry))
    assert emitter.emit(lambda: build_event(RunState.COMPLETE, ctx, entry))
    emitter.close()
    lines = (tmp_path / "openlineage" / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"]


def test_emission_failures_are_warnings_not_errors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    emitter = LineageEmitter.from_settings(Settings(storage_root=str(tmp_path)))

    def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("cannot build")

    with caplog.at_level("WARNING", logger="mlplatform.lineage"):
        assert emitter.emit(broken) is False
        off = LineageEmitter.from_settings(
            Settings(openlineage_transport="http", openlineage_api_key="s3cret")
        )
    assert (
        off.client is None
        and off.emit(lambda: build_event(RunState.START, _ctx(), _features_entry())) is False
    )
    assert "cannot build" in caplog.text and "s3cret" not in caplog.text


def test_commit_metadata_names_the_attempt() -> None:
    meta = json.loads(commit_metadata(_ctx("score", try_number=2), "churn_demo"))
    assert meta == {
        "run_id": "manual__2024-05-01T02:00:00+00:00",
        "dag_id": "churn_demo_training",
        "task_id": "score",
        "try_number": 2,
        "model": "churn_demo",
    }
