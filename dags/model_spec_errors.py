"""
### Model spec errors

Builds no DAG. Each model's DAGs are generated from its own spec file, so an invalid spec costs
only its own model. This file turns the invalid ones into one import error, which the Airflow
UI shows on the DAG list ("DAG Import Errors"), naming each spec file and field.
"""

from __future__ import annotations

from airflow_glue.context import broken_specs
from mlplatform.config.specs import SpecError

_errors = broken_specs()
if _errors:
    raise SpecError(
        f"{len(_errors)} model spec(s) are invalid and have no DAGs; the other models are unaffected:\n"
        + "\n".join(str(error) for error in _errors.values())
    )
