"""The one Spark session factory: Spark with Delta Lake, configured from settings.

Delta's jars are resolved once from Maven Central through Ivy into a project-local cache
(``MLP_JARS_DIR``) and loaded from there afterwards, so later starts need no network and the
same folder can be baked into an image.

A session whose driver died (JVM killed, SparkContext stopped) is never handed out again:
``get_spark`` notices, tears it down and builds a fresh one, so a task retry in the same process
(or the next task of a ``dag.test()`` run) gets a working Spark instead of the same error.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplatform.config.settings import Settings, get_settings
from mlplatform.core.errors import EnvironmentProblem
from mlplatform.io.spark_logs import driver_java_options

if TYPE_CHECKING:
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

SCALA_BINARY = "2.13"  # Spark 4 is built for Scala 2.13 only
S3A_PACKAGES = ("org.apache.hadoop:hadoop-aws:3.4.1",)
MANIFEST = "packages.txt"
JVM_GONE = "its JVM does not answer"
CONTEXT_STOPPED = "its SparkContext is stopped"

# The JVM-side SparkContext of the live JavaSparkContext, kept so the health check costs one call.
_jvm_context: tuple[Any, Any] | None = None


class JavaMissingError(EnvironmentProblem):
    """Spark needs a Java 17+ runtime and none was found."""


def check_java() -> str:
    """Path of the ``java`` binary Spark will use; a clear error when there is none."""
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else None
    found = str(java) if java and java.exists() else shutil.which("java")
    if not found:
        raise JavaMissingError(
            "Java 17 or newer is required by Spark but no 'java' was found on PATH or in JAVA_HOME. "
            "Install it (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17)."
        )
    return found


def delta_package() -> str:
    """Delta's Maven coordinate for the installed ``delta-spark`` (as ``delta.pip_utils`` derives it)."""
    from importlib.metadata import version

    return f"io.delta:delta-spark_{SCALA_BINARY}:{version('delta_spark')}"


def required_packages(settings: Settings) -> list[str]:
    packages = [delta_package(), *settings.spark_extra_packages]
    if not settings.is_local_storage:
        packages.extend(p for p in S3A_PACKAGES if p not in packages)
    return packages


def jars_folder(settings: Settings, packages: list[str]) -> Path:
    """Where one package set's jars live: ``jars_dir`` for Delta alone, a subfolder for each other set.

    S3 storage adds hadoop-aws and the AWS SDK bundle (about 550 MB); keeping each set in its own
    folder means resolving it never removes the jars that local sessions load.
    """
    base = Path(settings.jars_dir)
    extra = [p for p in packages if p != delta_package()]
    if not extra:
        return base
    digest = hashlib.sha256(",".join(packages).encode()).hexdigest()[:12]
    return base / f"with-{digest}"


def resolve_jars(settings: Settings | None = None) -> list[str]:
    """Local jar files for the required Maven packages, resolving them with Ivy on first use."""
    settings = settings or get_settings()
    packages = required_packages(settings)
    jars_dir = jars_folder(settings, packages)
    manifest = jars_dir / MANIFEST
    if manifest.exists() and manifest.read_text().split() == packages:
        return sorted(str(p) for p in jars_dir.glob("*.jar"))
    check_java()
    jars_dir.mkdir(parents=True, exist_ok=True)
    # Task processes on one machine may start together: one resolves, the others wait and reuse.
    with open(jars_dir.parent / f".{jars_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (manifest.exists() and manifest.read_text().split() == packages):
            _resolve_into(settings, packages, jars_dir)
    return sorted(str(p) for p in jars_dir.glob("*.jar"))


def _resolve_into(settings: Settings, packages: list[str], jars_dir: Path) -> None:
    """Resolve ``packages`` with Ivy and place their jars (hard links where possible) in ``jars_dir``."""
    base = Path(settings.jars_dir)
    ivy_dir = base.parent / ("ivy" if jars_dir == base else f"ivy-{jars_dir.name}")
    # A throwaway JVM does the Ivy resolution so that the real session never touches the network.
    script = (
        "from pyspark.sql import SparkSession\n"
        f"s = SparkSession.builder.master('local[1]').config('spark.jars.packages', {','.join(packages)!r})"
        f".config('spark.jars.ivy', {str(ivy_dir)!r}).config('spark.ui.enabled', 'false').getOrCreate()\n"
        "s.stop()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    resolved = sorted((ivy_dir / "jars").glob("*.jar"))
    if result.returncode != 0 or not resolved:
        raise RuntimeError(
            f"could not resolve Spark packages {packages} from Maven Central into {ivy_dir}:\n"
            f"{result.stderr[-2000:]}"
        )
    for stale in jars_dir.glob("*.jar"):
        stale.unlink()
    for jar in resolved:
        try:
            os.link(jar, jars_dir / jar.name)
        except OSError:
            shutil.copy2(jar, jars_dir / jar.name)
    (jars_dir / MANIFEST).write_text("\n".join(packages) + "\n")
    log.info("resolved Spark packages %s into %s", ", ".join(packages), jars_dir)


def _s3a_conf(settings: Settings) -> dict[str, str]:
    conf = {"spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem"}
    endpoint = settings.s3_endpoint_url
    if endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(endpoint.startswith("https")).lower()
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        conf["spark.hadoop.fs.s3a.aws.credentials.provider"] = (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        )
        conf["spark.hadoop.fs.s3a.access.key"] = os.environ["AWS_ACCESS_KEY_ID"]
        conf["spark.hadoop.fs.s3a.secret.key"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    return conf


def spark_conf(settings: Settings) -> dict[str, str]:
    """All Spark settings the factory applies, for inspection and tests."""
    jars = resolve_jars(settings)
    shipped = {"spark.jars": ",".join(jars)}
    if settings.spark_jars_on_nodes:
        class_path = os.pathsep.join(jars)
        shipped = {"spark.driver.extraClassPath": class_path, "spark.executor.extraClassPath": class_path}
    conf = {
        **shipped,
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.ui.enabled": str(settings.spark_ui_enabled).lower(),
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "false",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        # xgboost.spark runs one barrier task per worker; these keep local mode from stalling.
        "spark.task.maxFailures": "1" if settings.spark_master.startswith("local") else "4",
        "spark.python.worker.reuse": "true",
        "spark.ui.showConsoleProgress": "false",
        # With CSV column pruning Spark tokenises only the selected columns, so a line with too many
        # or too few fields is not flagged in _corrupt_record; bronze must keep malformed lines visible.
        "spark.sql.csv.parser.columnPruning.enabled": "false",
        "spark.databricks.delta.snapshotPartitions": str(max(1, settings.spark_shuffle_partitions)),
        # toPandas() through Arrow: collecting 1M feature rows to the driver drops from 11 s to 1.5 s
        # (bench/results/scoring.json); types Arrow cannot carry fall back to the row path.
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
    }
    if not settings.is_local_storage:
        conf.update(_s3a_conf(settings))
    conf.update(settings.spark_conf)
    conf["spark.driver.extraJavaOptions"] = driver_java_options(conf.get("spark.driver.extraJavaOptions"))
    return conf


def driver_problem(sc: SparkContext) -> str | None:
    """Why ``sc`` cannot run jobs (``CONTEXT_STOPPED`` or ``JVM_GONE``), or None when it can.

    One py4j round trip (``isStopped``) once the JVM context is cached; a dead JVM shows up as
    Py4J's "Answer from Java side is empty" or a refused connection.
    """
    from py4j.protocol import Py4JError, Py4JNetworkError

    global _jvm_context
    jsc = getattr(sc, "_jsc", None)
    if jsc is None:
        return CONTEXT_STOPPED
    try:
        if _jvm_context is None or _jvm_context[0] is not jsc:
            _jvm_context = (jsc, jsc.sc())
        stopped = bool(_jvm_context[1].isStopped())
    except (Py4JError, Py4JNetworkError, ConnectionError, OSError):
        return JVM_GONE
    return CONTEXT_STOPPED if stopped else None


def _discard(session: SparkSession | None, sc: SparkContext | None, problem: str) -> None:
    """Stop what is left of a dead session and forget it, so the builder starts from scratch.

    A JVM that still answers (only its context stopped) is kept for the next context, as PySpark
    does after ``stop()``; a gone one is closed and its process reaped so the next session
    launches a new JVM.
    """
    import warnings

    from pyspark import SparkContext
    from pyspark.sql import SparkSession, SQLContext

    global _jvm_context
    _jvm_context = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Unable to cleanly shutdown Spark JVM process"
        try:
            if session is not None and problem != JVM_GONE:
                session.stop()  # also clears the JVM's default session
            elif sc is not None:
                sc.stop()
        except Exception:
            log.debug("stopping the dead Spark session failed", exc_info=True)
    if sc is not None and getattr(sc, "_accumulatorServer", None):
        sc._accumulatorServer.shutdown()
        sc._accumulatorServer = None  # type: ignore[assignment]
    SparkContext._active_spark_context = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None
    SQLContext._instantiatedContext = None  # type: ignore[attr-defined]
    gateway = SparkContext._gateway
    if problem == JVM_GONE and gateway is not None:
        SparkContext._gateway = None
        SparkContext._jvm = None
        try:
            gateway.close()
        except Exception:
            log.debug("closing the dead Py4J gateway failed", exc_info=True)
        proc = getattr(gateway, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()  # not answering but still running: do not leak it
            proc.wait(timeout=30)


def _live_session() -> SparkSession | None:
    """The process's existing session when its driver is alive; a dead one is discarded first."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    session = SparkSession._activeSession or SparkSession._instantiatedSession
    sc = session.sparkContext if session is not None else SparkContext._active_spark_context
    if sc is None:
        return None
    problem = driver_problem(sc)
    if problem is None and session is not None:
        return session
    if problem is not None:
        log.warning("Spark driver is dead (%s); discarding the session and starting a new one", problem)
        _discard(session, sc, problem)
    return None


def get_spark(settings: Settings | None = None) -> SparkSession:
    """The process's SparkSession with Delta; created on first call, reused while its driver lives."""
    from pyspark.sql import SparkSession

    settings = settings or get_settings()
    active = _live_session()
    if active is not None:
        return active
    check_java()
    if settings.spark_master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    conf = spark_conf(settings)
    _start_jvm(settings, conf)
    builder = SparkSession.builder.master(settings.spark_master).appName(settings.spark_app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _start_jvm(settings: Settings, conf: dict[str, str]) -> None:
    """Launch the driver JVM (unless one is alive) with its output relayed into Python logging."""
    from pyspark import SparkConf, SparkContext

    from mlplatform.io.spark_logs import launch_gateway_with_relay

    if SparkContext._gateway is not None or "PYSPARK_GATEWAY_PORT" in os.environ:
        return
    jvm_conf = SparkConf(loadDefaults=False)
    jvm_conf.setMaster(settings.spark_master).setAppName(settings.spark_app_name).setAll(conf.items())
    SparkContext._ensure_initialized(gateway=launch_gateway_with_relay(jvm_conf), conf=jvm_conf)
