"""Where a result came from: the code version and the library versions it ran with."""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from importlib import metadata

from mlplatform.config.settings import PROJECT_ROOT

#: Distribution name → key in model cards and registry records; ``python`` is added from the interpreter.
LIBRARIES = {
    "xgboost": "xgboost",
    "pyspark": "pyspark",
    "delta-spark": "delta-spark",
    "great_expectations": "great_expectations",
    "shap": "shap",
    "numpy": "numpy",
    "pandas": "pandas",
    "scikit-learn": "scikit-learn",
}


@lru_cache(maxsize=1)
def code_version() -> str:
    """The project's git commit (``-dirty`` with local edits), else ``MLP_CODE_VERSION``, else ``unknown``.

    Images have no ``.git`` (``.dockerignore`` drops it), so the Dockerfile bakes the commit into
    ``MLP_CODE_VERSION`` at build time (``--build-arg CODE_VERSION=$(git rev-parse HEAD)``).
    """
    baked = os.environ.get("MLP_CODE_VERSION", "").strip()
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    if sha:
        return f"{sha}-dirty" if dirty else sha
    return baked or "unknown"


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a model depends on (None when one is not installed)."""
    versions: dict[str, str | None] = {}
    for key, distribution in LIBRARIES.items():
        try:
            versions[key] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            versions[key] = None
    versions["python"] = platform.python_version()
    return versions
