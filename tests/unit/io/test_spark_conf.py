"""The Spark session factory's pure parts: the Delta coordinate, the conf, the Java check (no JVM)."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from mlplatform.config.settings import Settings
from mlplatform.io import spark as factory


def test_delta_coordinate_follows_the_installed_delta_spark() -> None:
    assert factory.delta_package() == f"io.delta:delta-spark_2.13:{version('delta_spark')}"


def _cached_jars(tmp_path: Path, settings: Settings) -> Settings:
    """A jar cache whose manifest matches, so no resolution (and no JVM) is needed."""
    settings = settings.model_copy(update={"jars_dir": tmp_path / "jars"})
    packages = factory.required_packages(settings)
    jars = factory.jars_folder(settings, packages)
    jars.mkdir(parents=True)
    (jars / "delta-spark.jar").write_bytes(b"")
    (jars / factory.MANIFEST).write_text("\n".join(packages) + "\n")
    return settings


def test_local_conf_loads_delta_and_keeps_malformed_lines_visible(tmp_path: Path) -> None:
    settings = _cached_jars(tmp_path, Settings(storage_root=str(tmp_path), spark_conf={"spark.x": "1"}))
    conf = factory.spark_conf(settings)
    assert conf["spark.jars"].endswith("delta-spark.jar")
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.csv.parser.columnPruning.enabled"] == "false"
    assert conf["spark.x"] == "1", "MLP_SPARK_CONF entries are applied last"
    assert "-Dlog4j2.configurationFile=file:" in conf["spark.driver.extraJavaOptions"]
    assert not any(k.startswith("spark.hadoop.fs.s3a") for k in conf)


def test_s3_storage_adds_hadoop_aws_and_the_endpoint(tmp_path: Path) -> None:
    settings = Settings(storage_root="s3a://lake/mlp", s3_endpoint_url="http://127.0.0.1:9000")
    assert any(p.startswith("org.apache.hadoop:hadoop-aws:") for p in factory.required_packages(settings))
    conf = factory.spark_conf(_cached_jars(tmp_path, settings))
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"


def test_each_package_set_has_its_own_jar_folder(tmp_path: Path) -> None:
    """Resolving the S3 jars must never remove the jars local sessions load (and vice versa)."""
    local = Settings(storage_root=str(tmp_path), jars_dir=tmp_path / "jars")
    s3 = Settings(storage_root="s3a://lake/mlp", jars_dir=tmp_path / "jars")
    local_dir = factory.jars_folder(local, factory.required_packages(local))
    s3_dir = factory.jars_folder(s3, factory.required_packages(s3))
    assert local_dir == tmp_path / "jars"
    assert s3_dir.parent == local_dir and s3_dir != local_dir


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(factory.JavaMissingError, match="Java 17 or newer is required"):
        factory.check_java()


def test_jars_on_the_nodes_go_on_the_class_paths_instead_of_being_shipped(tmp_path: Path) -> None:
    settings = _cached_jars(tmp_path, Settings(storage_root=str(tmp_path), spark_jars_on_nodes=True))
    conf = factory.spark_conf(settings)
    assert "spark.jars" not in conf
    assert conf["spark.driver.extraClassPath"].endswith("delta-spark.jar")
    assert conf["spark.executor.extraClassPath"] == conf["spark.driver.extraClassPath"]
