"""pytest plugin for ``tests/unit``: pyspark and airflow cannot be imported while it is loaded.

Setting ``sys.modules[name] = None`` makes every ``import name`` raise ImportError, so a unit test
(or the code it calls) that needs a JVM or Airflow fails instead of quietly starting one.
"""

from __future__ import annotations

import sys

BLOCKED = ("pyspark", "airflow", "delta", "great_expectations")

for _name in BLOCKED:
    if _name in sys.modules and sys.modules[_name] is not None:
        raise RuntimeError(f"{_name} was imported before the unit-test guard was loaded")
    sys.modules[_name] = None  # type: ignore[assignment]
