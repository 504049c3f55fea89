"""One hierarchy for the platform's errors, so callers can ask what kind of failure it was.

``DataProblem`` covers what the data did (a missing or malformed source, a schema change, failed
expectations, bad labels): the Airflow glue alerts those as data-quality failures. The rest are
configuration, registry and runtime problems. Every message names the file, table, column or
spec field it is about.

Each error also says whether a retry can heal it (:func:`is_permanent`): a spec error, a missing
source, a refused schema, a checksum mismatch, a missing champion or a retired model give the
same answer on every try, so the task fails at once; a Delta commit conflict or a storage outage
may pass on the next try, so Airflow's retries apply.
"""

from __future__ import annotations

from typing import ClassVar


class PlatformError(Exception):
    """Base of every error the platform raises on purpose; permanent unless a subclass says not."""

    permanent: ClassVar[bool] = True


class TransientError(PlatformError):
    """A failure that a later try may not meet (a conflict with a concurrent writer, an outage)."""

    permanent: ClassVar[bool] = False


class ConfigError(PlatformError, ValueError):
    """A spec or setting is invalid (the message names the file and field)."""


class DataProblem(PlatformError):
    """The data, not the code, is at fault: the run stops and the data-quality alert goes out."""


class RegistryError(PlatformError, RuntimeError):
    """The model registry refused or could not complete an operation."""


class EnvironmentProblem(PlatformError, RuntimeError):
    """The machine lacks something the platform needs (Java, a jar, a reachable service)."""


# Delta's optimistic-concurrency failures (io.delta.exceptions.* and delta.exceptions.*): another
# writer committed first, and the same write on a fresh snapshot usually succeeds.
_DELTA_CONFLICTS = (
    "ConcurrentModificationException",
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "DELTA_CONCURRENT_",
    "DELTA_METADATA_CHANGED",
    "DELTA_PROTOCOL_CHANGED",
)
# Spark's analysis errors for inputs that do not exist: no retry makes them appear.
_MISSING_INPUT = ("PATH_NOT_FOUND", "TABLE_OR_VIEW_NOT_FOUND", "DELTA_TABLE_NOT_FOUND")


def is_permanent(exc: BaseException) -> bool:
    """Whether retrying the task that raised ``exc`` would only repeat the failure.

    The platform's own errors say so themselves; of the rest, Delta commit conflicts are transient
    and missing inputs permanent. Anything unknown counts as transient, so Airflow's retries keep
    covering what the platform cannot judge (a lost executor, a network blip).
    """
    if isinstance(exc, PlatformError):
        return type(exc).permanent
    text = f"{type(exc).__name__} {exc}"
    if any(mark in text for mark in _DELTA_CONFLICTS):
        return False
    if isinstance(exc, FileNotFoundError) or any(mark in text for mark in _MISSING_INPUT):
        return True
    return False
