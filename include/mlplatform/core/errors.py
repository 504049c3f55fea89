"""One hierarchy for the platform's errors, so callers can ask what kind of failure it was.

``DataProblem`` covers what the data did (a missing or malformed source, a schema change, failed
expectations, bad labels): the Airflow glue alerts those as data-quality failures. The rest are
configuration, registry and runtime problems. Every message names the file, table, column or
spec field it is about.
"""

from __future__ import annotations


class PlatformError(Exception):
    """Base of every error the platform raises on purpose."""


class ConfigError(PlatformError, ValueError):
    """A spec or setting is invalid (the message names the file and field)."""


class DataProblem(PlatformError):
    """The data, not the code, is at fault: the run stops and the data-quality alert goes out."""


class RegistryError(PlatformError, RuntimeError):
    """The model registry refused or could not complete an operation."""


class EnvironmentProblem(PlatformError, RuntimeError):
    """The machine lacks something the platform needs (Java, a jar, a reachable service)."""
