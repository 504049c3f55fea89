"""Unit tests: pure Python. ``tests/test_unit_isolation.py`` runs this tree with pyspark and airflow
made unimportable, so a unit test that reaches for a JVM or Airflow fails there."""
