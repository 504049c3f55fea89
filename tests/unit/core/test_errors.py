"""Which failures a retry can heal: permanent ones fail the task at once, transient ones retry."""

from __future__ import annotations

import pytest

from mlplatform.alerts.messages import AlertDeliveryError
from mlplatform.config.specs import SpecError
from mlplatform.core.errors import DataProblem, TransientError, is_permanent
from mlplatform.data.ingest import SourceError
from mlplatform.io.delta import TableSchemaError, TableWriteError
from mlplatform.io.roots import SourcePathError
from mlplatform.registry import ModelRetiredError, NoChampionError, RegistryError
from mlplatform.registry.events import CommitConflictError


class ConcurrentAppendException(Exception):
    """Named like delta-spark's: Python sees Delta's conflicts only by name and message."""


class AnalysisException(Exception):
    """Named like pyspark's."""


@pytest.mark.parametrize(
    "error",
    [
        SpecError("include/specs/m.yaml: columns.target: field required"),
        SourceError("cannot read source file /lake/landing/m/2026-11-03.csv (csv): PATH_NOT_FOUND"),
        SourcePathError("model spec 'm' field source.scoring.path ('/etc/x') is outside the readable roots"),
        RegistryError("m v3: checksum mismatch for /lake/models/m/3/model.ubj; refusing to load"),
        NoChampionError("m has no champion"),
        ModelRetiredError("m was retired"),
        TableSchemaError("Delta table /lake/t has other column types than the catalog declares"),
        DataProblem("3 of 10 expectations failed"),
        FileNotFoundError("/lake/landing/m.csv"),
        AnalysisException("[PATH_NOT_FOUND] Path does not exist: file:/lake/landing/m/2026-11-03.csv."),
    ],
    ids=lambda e: type(e).__name__,
)
def test_permanent_errors_are_not_retried(error: Exception) -> None:
    assert is_permanent(error)


@pytest.mark.parametrize(
    "error",
    [
        CommitConflictError("registry write of m kept conflicting: gave up after 8 attempts"),
        TableWriteError("cannot write Delta table /lake/t: No space left on device"),
        AlertDeliveryError("webhook ops: HTTP 503"),
        ConcurrentAppendException(
            "[DELTA_CONCURRENT_APPEND] Files were added to partition by a concurrent update"
        ),
        RuntimeError("py4j: Answer from Java side is empty"),
        ConnectionResetError("connection reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient_and_unknown_errors_keep_airflows_retries(error: Exception) -> None:
    assert not is_permanent(error)


def test_a_transient_platform_error_is_still_a_platform_error() -> None:
    assert issubclass(CommitConflictError, RegistryError) and issubclass(CommitConflictError, TransientError)
    assert issubclass(TableSchemaError, TableWriteError) and is_permanent(TableSchemaError("x"))
