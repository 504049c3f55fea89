"""Static checks of the container stack (Dockerfile + docker-compose.yaml); no Docker engine needed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yaml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
REQUIREMENTS = PROJECT_ROOT / "requirements.txt"

AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
REQUIRED_SERVICES = (
    "postgres",
    "redis",
    "minio",
    "minio-init",
    "spark-master",
    "spark-worker",
    *AIRFLOW_SERVICES,
)
PLATFORM_ENV = ("MLP_STORAGE_ROOT", "MLP_SPARK_MASTER", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _env(service: dict) -> dict:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment must be a mapping (it is merged from x-airflow-common)"
    return env


def test_compose_spec_has_no_version_key(compose: dict) -> None:
    assert "version" not in compose


@pytest.mark.parametrize("name", REQUIRED_SERVICES)
def test_required_service_exists(compose: dict, name: str) -> None:
    assert name in compose["services"]


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_service_uses_common_image_and_env(compose: dict, name: str) -> None:
    common = compose["x-airflow-common"]
    service = compose["services"][name]
    assert service["image"] == common["image"]
    common_env, env = _env(common), _env(service)
    assert {k: env.get(k) for k in common_env} == common_env, f"{name} must carry x-airflow-common's env"
    for key in PLATFORM_ENV:
        assert env.get(key), f"{name} lacks {key}"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert "@postgres" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["MLP_STORAGE_ROOT"].startswith("s3a://")
    assert env["MLP_SPARK_MASTER"] == "spark://spark-master:7077"


def test_airflow3_components_and_commands(compose: dict) -> None:
    services = compose["services"]
    assert services["airflow-apiserver"]["command"] == "api-server"
    assert services["airflow-scheduler"]["command"] == "scheduler"
    assert services["airflow-dag-processor"]["command"] == "dag-processor"
    assert services["airflow-triggerer"]["command"] == "triggerer"
    assert "airflow-webserver" not in services
    env = _env(compose["x-airflow-common"])
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"]


def test_spark_cluster_runs_the_project_image(compose: dict) -> None:
    services = compose["services"]
    image = compose["x-airflow-common"]["image"]
    for name, role in (("spark-master", "master.Master"), ("spark-worker", "worker.Worker")):
        assert services[name]["image"] == image, f"{name} needs the driver's Python packages"
        assert f"org.apache.spark.deploy.{role}" in " ".join(services[name]["command"])
    assert "spark://spark-master:7077" in " ".join(services["spark-worker"]["command"])


def _airflow_pin() -> str:
    match = re.search(r"^apache-airflow==([\w.]+)\s*$", REQUIREMENTS.read_text(), re.MULTILINE)
    assert match, "requirements.txt must pin apache-airflow=="
    return match.group(1)


def test_dockerfile_airflow_version_matches_requirements_pin() -> None:
    match = re.search(
        r"^FROM\s+apache/airflow:([\w.]+?)(?:-python[\d.]+)?(?:\s|$)", DOCKERFILE.read_text(), re.M
    )
    assert match, "Dockerfile must start FROM apache/airflow:<version>[-pythonX.Y]"
    assert match.group(1) == _airflow_pin()


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


REQUIRED_SECRETS = (
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
    "POSTGRES_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "SPARK_AUTH_SECRET",
)


def _compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    command = _compose_command()
    if command is None:
        pytest.skip("neither docker-compose (v1) nor the `docker compose` plugin is on PATH")
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED_SECRETS}
    return subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "config"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_docker_compose_config_validates_with_the_env_compose_env_writes(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    lines = {name: f"test-{name.lower()}" for name in REQUIRED_SECRETS}
    env_file.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    result = _compose_config(env_file)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    api_env = config["services"]["airflow-apiserver"]["environment"]
    assert api_env["AIRFLOW__API_AUTH__JWT_SECRET"] == "test-airflow_jwt_secret"
    assert api_env["AIRFLOW__CORE__FERNET_KEY"] == "test-airflow_fernet_key"


@pytest.mark.parametrize("missing", REQUIRED_SECRETS)
def test_docker_compose_refuses_to_start_without_each_secret(tmp_path: Path, missing: str) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}=x\n" for k in REQUIRED_SECRETS if k != missing))
    result = _compose_config(env_file)
    assert result.returncode != 0
    assert f"set {missing} in .env (make compose-env)" in result.stderr


def test_image_records_the_commit_it_was_built_from(compose: dict) -> None:
    """``.dockerignore`` drops ``.git``, so the commit must reach the image as MLP_CODE_VERSION."""
    assert ".git/" in (PROJECT_ROOT / ".dockerignore").read_text().split()
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG CODE_VERSION", text, re.M)
    assert "MLP_CODE_VERSION=${CODE_VERSION}" in text
    assert compose["x-project-image"]["build"]["args"]["CODE_VERSION"] == "${CODE_VERSION:-unknown}"


def test_compose_sets_every_cluster_setting_the_stack_test_uses(compose: dict) -> None:
    """tests/stack runs the compose stack's settings on loopback services: the names must match."""
    from tests.stack.settings import FIXED, PER_CLUSTER

    env = _env(compose["services"]["airflow-worker"])
    missing = sorted((set(FIXED) | set(PER_CLUSTER)) - set(env))
    assert not missing, f"docker-compose.yaml lacks {missing}"
    assert {k: env[k] for k in FIXED} == FIXED
    spark_conf = json.loads(env["MLP_SPARK_CONF"])
    assert spark_conf["spark.authenticate"] == "true" and spark_conf["spark.cores.max"] == "2"
    assert (
        json.loads(env["AIRFLOW_CONN_MLP_S3"].replace("${MINIO_ROOT_USER:-minioadmin}", "x"))["conn_type"]
        == "aws"
    )
    assert "AWS_SECRET_ACCESS_KEY" not in env, "credentials come from the Airflow connection"


def test_airflow_workers_scale_and_share_the_spark_secret(compose: dict, tmp_path: Path) -> None:
    worker = compose["services"]["airflow-worker"]
    assert worker["command"] == "celery worker"
    assert "hostname" not in worker and "container_name" not in worker, "--scale needs unnamed containers"
    for name in ("spark-master", "spark-worker"):
        opts = _env(compose["services"][name])["SPARK_DAEMON_JAVA_OPTS"]
        assert "-Dspark.authenticate=true" in opts and "SPARK_AUTH_SECRET" in opts
