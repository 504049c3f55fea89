"""OpenLineage events for every task attempt: START as it begins, COMPLETE or FAIL as it ends.

The events say what the lineage row says, in the standard vocabulary: the job is
``{dag_id}.{task_id}`` with the DAG run as its parent, the datasets are the tables and files the
step read and wrote with their Delta versions and declared schemas, the engineered features carry
column-level lineage to the validated columns they are computed from, the validated batch carries
its GX assertions, and a registered model version is an output dataset of its own.

Building an event is pure (no Spark, no I/O), so it is unit-tested as is; ``LineageEmitter`` sends
events with the client's own transports and never lets a failure to send fail the step.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    error_message_run,
    job_type_job,
    nominal_time_run,
    parent_run,
    processing_engine_run,
)

from mlplatform.core.context import RunContext
from mlplatform.io.catalog import TABLES
from mlplatform.io.layout import StorageLayout
from mlplatform.lineage.openlineage_facets import (
    MlplatformRunFacet,
    ModelVersionDatasetFacet,
    assertions_facet,
    column_lineage_facet,
    schema_facet,
)

if TYPE_CHECKING:
    from openlineage.client.transport import Transport

    from mlplatform.config.settings import Settings
    from mlplatform.config.specs import ModelSpec
    from mlplatform.lineage.recorder import LineageEntry, TableRef

log = logging.getLogger("mlplatform.lineage")

PRODUCER = "https://github.com/mlplatform/mlplatform/tree/main/include/mlplatform/lineage"
_IDS = uuid.UUID("6f1c0c55-9d0e-4b53-9a8e-2f0f4d6f0c11")  # uuid5 namespace of this platform's runs


def run_uuid(ctx: RunContext, step: str | None = None) -> str:
    """The attempt's OpenLineage run id: the same for its START and its COMPLETE/FAIL; each
    ``step`` of a task that runs several is a run of its own."""
    key = f"task:{ctx.dag_id}:{ctx.run_id}:{ctx.task_id}:{ctx.try_number}" + (f":{step}" if step else "")
    return str(uuid.uuid5(_IDS, key))


def job_name(ctx: RunContext, step: str | None = None) -> str:
    """``dag_id.task_id``, and ``.step`` for each step of a task that runs several."""
    return f"{ctx.dag_id}.{ctx.task_id}" + (f".{step}" if step else "")


def dag_run_uuid(ctx: RunContext) -> str:
    """The DAG run's OpenLineage run id (the parent of every task attempt in it)."""
    return str(uuid.uuid5(_IDS, f"dag:{ctx.dag_id}:{ctx.run_id}"))


def dataset_address(uri: str) -> tuple[str, str]:
    """(namespace, name) per the OpenLineage naming spec: ``file`` and the absolute path for local
    files, ``scheme://bucket`` and the key for object stores."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return "file", parsed.path if parsed.scheme else uri
    return f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/")


def registered_model(entry: LineageEntry, storage_root: str) -> dict[str, Any] | None:
    """The model version a register step made: number, artifact folder, booster checksum.

    Known by its shape: the step's result is a registered version (``version`` and ``created``)
    and its input handoff carries the staged booster's ``booster_sha256``.
    """
    result = entry.params.get("result") or {}
    if not (isinstance(result.get("version"), int) and "created" in result and entry.model_name):
        return None
    sha = next((v["booster_sha256"] for v in _handoffs(entry.step_inputs) if v.get("booster_sha256")), None)
    if sha is None:
        return None
    version = int(result["version"])
    uri = StorageLayout(storage_root).model_version_dir(entry.model_name, version)
    return {
        "model_name": entry.model_name,
        "version": version,
        "artifact_uri": uri,
        "booster_sha256": sha,
        "created": bool(result["created"]),
    }


def _handoffs(inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for value in inputs.values():
        data = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
        if isinstance(data, dict):
            out.append(data)
    return out


def _dataset_facets(
    ref: TableRef, spec: ModelSpec | None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if ref.version is not None:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=str(ref.version)
        )
    if ref.name in TABLES:
        facets["schema"] = schema_facet(ref.name, spec)
    facets.update(extra or {})
    return facets


def _datasets(
    entry: LineageEntry, assertions: list[Mapping[str, Any]] | None, storage_root: str | None
) -> tuple[list[InputDataset], list[OutputDataset]]:
    spec = entry.spec
    quality = assertions_facet(assertions) if assertions else None
    inputs = []
    for ref in entry.inputs:
        namespace, name = dataset_address(ref.uri)
        input_facets = {"dataQualityAssertions": quality} if quality and ref.name == "bronze" else {}
        inputs.append(
            InputDataset(namespace, name, facets=_dataset_facets(ref, spec), inputFacets=input_facets)
        )
    validated = next((dataset_address(r.uri) for r in entry.inputs if r.name == "validated"), None)
    outputs = []
    for ref in entry.outputs:
        namespace, name = dataset_address(ref.uri)
        extra: dict[str, Any] = {}
        if ref.name == "features" and spec is not None and validated is not None:
            extra["columnLineage"] = column_lineage_facet(spec, validated)
        if ref.name == "validated" and quality:
            extra["dataQualityAssertions"] = quality
        outputs.append(OutputDataset(namespace, name, facets=_dataset_facets(ref, spec, extra)))
    model = registered_model(entry, storage_root) if storage_root else None
    if model is not None:
        namespace, name = dataset_address(model["artifact_uri"])
        facets = {
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=str(model["version"])
            ),
            "mlplatform_model_version": ModelVersionDatasetFacet(**model),
        }
        outputs.append(OutputDataset(namespace, name, facets=facets))
    return inputs, outputs


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _run_facets(
    ctx: RunContext, entry: LineageEntry, namespace: str, code_version: str | None, error: str | None
) -> dict[str, Any]:
    parent_id = dag_run_uuid(ctx)
    facets: dict[str, Any] = {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent_id),
            job=parent_run.Job(namespace=namespace, name=ctx.dag_id),
            root=parent_run.Root(
                run=parent_run.RootRun(runId=parent_id),
                job=parent_run.RootJob(namespace=namespace, name=ctx.dag_id),
            ),
        ),
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=_version("pyspark"),
            name="spark",
            openlineageAdapterVersion=_version("openlineage-python"),
        ),
        "mlplatform": MlplatformRunFacet(
            trigger_type=str(ctx.trigger_type),
            triggered_by=ctx.triggered_by,
            model_name=entry.model_name,
            model_version=entry.model_version,
            code_version=code_version,
            try_number=ctx.try_number,
            airflow_run_id=ctx.run_id,
            step=entry.step,
        ),
    }
    if ctx.logical_date is not None:
        facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(nominalStartTime=_iso(ctx.logical_date))
    if error is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="python"
        )
    return facets


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def build_event(
    state: RunState,
    ctx: RunContext,
    entry: LineageEntry,
    *,
    namespace: str = "mlplatform",
    event_time: datetime | None = None,
    code_version: str | None = None,
    error: str | None = None,
    assertions: list[Mapping[str, Any]] | None = None,
    storage_root: str | None = None,
) -> RunEvent:
    """One event of a task attempt; START carries the run only, COMPLETE/FAIL the datasets too."""
    job = Job(
        namespace=namespace,
        name=job_name(ctx, entry.step),
        facets={
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration="MLPLATFORM", jobType="TASK"
            )
        },
    )
    inputs, outputs = ([], []) if state == RunState.START else _datasets(entry, assertions, storage_root)
    return RunEvent(
        eventType=state,
        eventTime=_iso(event_time or datetime.now(UTC)),
        run=Run(
            runId=run_uuid(ctx, entry.step), facets=_run_facets(ctx, entry, namespace, code_version, error)
        ),
        job=job,
        inputs=inputs,
        outputs=outputs,
        producer=PRODUCER,
    )


def default_event_file(settings: Settings) -> str | None:
    """Where the file transport writes: MLP_OPENLINEAGE_FILE, else below a local storage root."""
    if settings.openlineage_file:
        return settings.openlineage_file
    if settings.is_local_storage:
        root = (
            urlparse(settings.storage_root).path if "://" in settings.storage_root else settings.storage_root
        )
        return f"{root.rstrip('/')}/openlineage/events.jsonl"
    return None


def make_transport(settings: Settings) -> Transport | None:
    """The configured transport (None for ``none``); misconfiguration raises ValueError."""
    from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport
    from openlineage.client.transport.file import FileConfig, FileTransport
    from openlineage.client.transport.http import (
        ApiKeyTokenProvider,
        HttpConfig,
        HttpTransport,
        TokenProvider,
    )

    kind = settings.openlineage_transport
    if kind == "none":
        return None
    if kind == "http":
        if not settings.openlineage_url:
            raise ValueError(
                "MLP_OPENLINEAGE_TRANSPORT=http needs MLP_OPENLINEAGE_URL (e.g. http://localhost:5000)"
            )
        key = settings.openlineage_api_key
        auth = ApiKeyTokenProvider({"apiKey": key.get_secret_value()}) if key else TokenProvider({})
        return HttpTransport(
            HttpConfig(
                url=settings.openlineage_url,
                endpoint=settings.openlineage_endpoint,
                timeout=settings.openlineage_timeout_s,
                auth=auth,
                retry={
                    "total": 2,
                    "read": 2,
                    "connect": 2,
                    "backoff_factor": 0.2,
                    "status_forcelist": [500, 502, 503, 504],
                    "allowed_methods": ["HEAD", "POST"],
                },
            )
        )
    if kind == "file":
        path = default_event_file(settings)
        if path is None:
            log.warning(
                "OpenLineage: storage root %s is not local and MLP_OPENLINEAGE_FILE is unset; "
                "events go to the console log instead",
                settings.storage_root,
            )
            return ConsoleTransport(ConsoleConfig())
        if "://" not in path or path.startswith("file://"):
            Path(urlparse(path).path if "://" in path else path).parent.mkdir(parents=True, exist_ok=True)
        return FileTransport(FileConfig(log_file_path=path, append=True))
    return ConsoleTransport(ConsoleConfig())


class LineageEmitter:
    """Sends events through one client; a failure to build or send one is a WARNING, never an error."""

    def __init__(self, client: OpenLineageClient | None, *, namespace: str, storage_root: str | None) -> None:
        self.client = client
        self.namespace = namespace
        self.storage_root = storage_root

    @classmethod
    def from_settings(cls, settings: Settings) -> LineageEmitter:
        client = None
        try:
            transport = make_transport(settings)
            client = OpenLineageClient(transport=transport) if transport is not None else None
        except Exception as exc:  # a bad configuration costs the events, not the step
            log.warning("OpenLineage disabled for this step: %s: %s", type(exc).__name__, exc)
        return cls(client, namespace=settings.openlineage_namespace, storage_root=settings.storage_root)

    def emit(self, build: Callable[[], RunEvent]) -> bool:
        """Build and send one event; False (logged) when either fails or emission is off."""
        if self.client is None:
            return False
        try:
            event = build()
            self.client.emit(event)
        except Exception as exc:
            log.warning("OpenLineage event not emitted: %s: %s", type(exc).__name__, exc)
            return False
        log.info(
            "OpenLineage %s event for %s (run %s)", event.eventType.value, event.job.name, event.run.runId
        )
        return True

    def close(self) -> None:
        if self.client is None:
            return
        try:
            self.client.close(timeout=5.0)
        except Exception as exc:
            log.warning("OpenLineage transport did not close cleanly: %s", exc)
