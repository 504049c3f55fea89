"""Hostile and careless specs: each is refused with the file and field named, and costs only itself.

One invalid spec beside good ones leaves every other model's DAGs in place (its error is the
import error of ``dags/model_spec_errors.py``). Path templates accept only their documented
placeholders, and a resolved path outside the storage root, ``datasets_dir`` and
``MLP_SOURCE_ROOTS`` is refused before a byte is read.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import PROJECT_ROOT, platform_env

MODEL = "churn_demo"
DEMO = yaml.safe_load((PROJECT_ROOT / "include" / "specs" / f"{MODEL}.yaml").read_text())


def _write(folder: Path, raw: dict[str, Any], name: str = MODEL) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**raw, "name": name}, sort_keys=False))
    return path


def _changed(**sections: Any) -> dict[str, Any]:
    raw = copy.deepcopy(DEMO)
    for section, values in sections.items():
        raw[section] = {**raw.get(section, {}), **values} if isinstance(values, dict) else values
    return raw


def _scoring_path(path: str) -> dict[str, Any]:
    return _changed(
        source={
            "training": DEMO["source"]["training"],
            "scoring": {**DEMO["source"]["scoring"], "path": path},
        }
    )


@pytest.mark.parametrize(
    ("raw", "field", "says"),
    [
        (_changed(validation={"max_bad_row_fracton": 0.1}), "validation.max_bad_row_fracton", "Extra inputs"),
        (_changed(training={"seed": "forty-two"}), "training.seed", "integer"),
        (_changed(validation={"required": ["no_such_column"]}), "validation.required", "no_such_column"),
        (
            _changed(features={"derived": [{"name": "x", "op": "log1p", "inputs": ["no_such_column"]}]}),
            "features.derived[0]",
            "no_such_column",
        ),
        (_scoring_path("{storage_root}/landing/{date}.csv"), "source.scoring.path", "{date}"),
        (_scoring_path("{storage_root.__class__.__mro__}/x.csv"), "source.scoring.path", "__class__"),
        (_scoring_path("{storage_root}/../../../../etc/passwd"), "source.scoring.path", "'..'"),
        (
            _changed(
                source={**DEMO["source"], "scoring": {**DEMO["source"]["scoring"], "encoding": "utf-7"}}
            ),
            "source.scoring.encoding",
            "utf-8",
        ),
    ],
    ids=[
        "unknown-field",
        "wrong-type",
        "missing-column",
        "feature-on-missing-column",
        "unknown-placeholder",
        "attribute-placeholder",
        "path-climbs-out",
        "unknown-encoding",
    ],
)
def test_a_bad_spec_is_refused_naming_file_and_field(
    tmp_path: Path, raw: dict, field: str, says: str
) -> None:
    from mlplatform.config.specs import SpecError, load_spec

    path = _write(tmp_path, raw)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    message = str(err.value)
    assert str(path) in message
    assert field.split("[")[0].split(".")[-1] in message and says in message, message


def test_a_python_yaml_tag_is_refused(tmp_path: Path) -> None:
    from mlplatform.config.specs import SpecError, load_spec

    path = tmp_path / f"{MODEL}.yaml"
    path.write_text("name: !!python/object/apply:os.system ['touch /tmp/pwned']\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(path)


def test_one_bad_spec_beside_good_ones_costs_only_itself(tmp_path: Path) -> None:
    """A DagBag over the project's DAG files with two good specs and one with a typo."""
    from airflow.dag_processing.dagbag import DagBag

    specs = tmp_path / "specs"
    _write(specs, DEMO, MODEL)
    _write(specs, DEMO, "second_model")
    broken = _write(specs, _changed(validation={"max_bad_row_fracton": 0.1}), "broken_model")
    with platform_env(MLP_SPEC_DIR=str(specs)):
        bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    expected = {f"{m}_{k}" for m in (MODEL, "second_model") for k in ("training", "scoring", "retirement")}
    assert set(bag.dag_ids) == expected | {"platform_maintenance"}  # the one platform-wide DAG
    assert list(bag.import_errors) == [str(PROJECT_ROOT / "dags" / "model_spec_errors.py")]
    error = next(iter(bag.import_errors.values()))
    assert str(broken) in error and "validation.max_bad_row_fracton" in error
    assert "second_model" not in error


# Reading a source: the resolved path must lie below a readable root, checked before any read.


def _ingest(spark, settings, ds: str = "2026-11-10"):  # type: ignore[no-untyped-def]
    from mlplatform.core.context import RunContext
    from mlplatform.lifecycle.runner import run_step

    ctx = RunContext(
        "scheduled__paths", f"{MODEL}_scoring", "ingest", datetime.fromisoformat(ds).replace(tzinfo=UTC)
    )
    return run_step("ingest", MODEL, ctx, settings=settings, mode="scoring")


def _settings(tmp_path: Path, raw: dict[str, Any], **extra: Any):  # type: ignore[no-untyped-def]
    from mlplatform.config.settings import Settings

    return Settings(
        storage_root=str(tmp_path / "lake"), spec_dir=_write(tmp_path / "specs", raw).parent, **extra
    )


@pytest.mark.spark
def test_a_path_outside_the_roots_is_refused_before_a_byte_is_read(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.io.layout import StorageLayout
    from mlplatform.io.roots import SourcePathError

    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("customer_id,password\nroot,hunter2-do-not-leak\n")
    settings = _settings(tmp_path, _scoring_path(str(secret)))
    with pytest.raises(SourcePathError) as err:
        _ingest(spark, settings)
    message = str(err.value)
    assert "source.scoring.path" in message and str(secret) in message and "MLP_SOURCE_ROOTS" in message
    assert "hunter2" not in message and "password" not in message
    layout = StorageLayout(settings.storage_root)
    assert not Path(layout.model_table(MODEL, "bronze")).exists()
    assert not Path(layout.platform_table("source_schemas")).exists()


@pytest.mark.spark
def test_a_symlink_out_of_the_storage_root_is_refused(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.io.roots import SourcePathError

    target = tmp_path / "elsewhere.csv"
    target.write_text("customer_id\nx\n")
    settings = _settings(tmp_path, DEMO)
    link = Path(settings.storage_root) / "landing" / MODEL / "batches" / "2026-11-10.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    with pytest.raises(SourcePathError, match="outside the readable roots"):
        _ingest(spark, settings)


@pytest.mark.spark
def test_source_roots_allow_an_explicit_folder(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.demo.data import generate_customers

    shared = tmp_path / "shared-landing"
    shared.mkdir()
    generate_customers(40, seed=3, bad_row_fraction=0.0).to_csv(shared / "2026-11-10.csv", index=False)
    raw = _scoring_path(str(shared) + "/{ds}.csv")
    refused = _settings(tmp_path, raw)
    allowed = _settings(tmp_path, raw, source_roots=[str(shared)])
    from mlplatform.io.roots import SourcePathError

    with pytest.raises(SourcePathError):
        _ingest(spark, refused)
    assert _ingest(spark, allowed)["rows"] == 40


def test_source_roots_are_read_comma_separated_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mlplatform.config.settings import Settings

    monkeypatch.setenv("MLP_SOURCE_ROOTS", "/data/a, s3a://bucket/landing")
    assert Settings().source_roots == ["/data/a", "s3a://bucket/landing"]
