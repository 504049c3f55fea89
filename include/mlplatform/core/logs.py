"""What a task log shows of the libraries the platform drives: their warnings, not their chatter.

Great Expectations logs a line per function it registers at import (hundreds at INFO), and a few
libraries warn about things the platform does on purpose. Both drown the platform's own story of
a step (what it read, decided and wrote), so they are lowered or filtered here, once per process.
"""

from __future__ import annotations

import logging
import warnings

#: Loggers held at WARNING: their INFO lines are about the library, not the data.
QUIET_LOGGERS = (
    "great_expectations",
    "py4j",
    "openlineage.client",
    "urllib3",
    "matplotlib",
    "numba",
    "shap",
)
#: (category, module regex, message regex) of warnings that say nothing a user can act on.
KNOWN_WARNINGS = (
    (DeprecationWarning, r"(great_expectations|pyspark|xgboost|shap|marshmallow|pkg_resources)", ""),
    (FutureWarning, r"(great_expectations|pyspark|xgboost|shap|pandas)", ""),
    (UserWarning, r"pyspark", r".*(toPandas attempted Arrow optimization|DataFrame.sql_ctx).*"),
    (UserWarning, r"xgboost", r".*(Parameters: \\{ \"use_label_encoder\" \\}|device).*"),
)
_done = False


def quiet_libraries() -> None:
    """Lower the known chatty loggers and filter the known noise warnings (idempotent)."""
    global _done
    if _done:
        return
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
    for category, module, message in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    _done = True
