"""The JVM's output in the task log: each log4j record at its own level, never as an error by default."""

from __future__ import annotations

import logging
import os
import threading

import pytest

from mlplatform.io.spark_logs import LOG4J2_CONFIG, LogRelay, driver_java_options, relay_fd


def _records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("spark")]


def test_records_keep_their_level_and_a_stack_trace_stays_with_its_record(caplog) -> None:  # type: ignore[no-untyped-def]
    relay = LogRelay()
    with caplog.at_level(logging.DEBUG, logger="spark"):
        for line in [
            "WARN org.apache.spark.sql.execution.CacheManager: Asked to cache already cached data.",
            "ERROR org.apache.spark.executor.Executor: Exception in task 0.0 in stage 3.0",
            "java.io.IOException: No space left on device",
            "\tat java.base/java.io.FileOutputStream.writeBytes(Native Method)",
            "Caused by: java.io.IOException: disk full",
            "\t... 12 more",
            "INFO org.apache.spark.SparkContext: Running Spark version 4.0.1",
            "WARNING: Using incubator modules: jdk.incubator.vector",
            "/lib/python3.11/site-packages/xgboost/core.py:158: UserWarning: something",
        ]:
            relay.feed(line)
        relay.flush()
    records = _records(caplog)
    assert records[0] == ("spark.CacheManager", logging.WARNING, "Asked to cache already cached data.")
    name, level, message = records[1]
    assert (name, level) == ("spark.Executor", logging.ERROR)
    assert message.splitlines()[0] == "Exception in task 0.0 in stage 3.0"
    assert "No space left on device" in message and "... 12 more" in message, "one record, whole trace"
    assert records[2] == ("spark.SparkContext", logging.INFO, "Running Spark version 4.0.1")
    assert records[3][0:2] == ("spark.stderr", logging.WARNING) and "UserWarning" in records[3][2]
    assert len(records) == 4, "the JVM's own incubator notice is dropped"


def test_relay_fd_logs_what_a_process_writes_until_the_pipe_closes(caplog) -> None:  # type: ignore[no-untyped-def]
    read_fd, write_fd = os.pipe()
    with caplog.at_level(logging.INFO, logger="spark"):
        thread = threading.Thread(target=relay_fd, args=(read_fd,), kwargs={"idle_s": 0.05})
        thread.start()
        os.write(write_fd, b"WARN org.apache.spark.util.Utils: first\nINFO org.apache.spark.Sp")
        os.write(write_fd, b"arkContext: second, split across writes\n")
        os.close(write_fd)
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert [m for _, _, m in _records(caplog)] == ["first", "second, split across writes"]


def test_driver_java_options_add_the_shipped_config_and_keep_a_users_own() -> None:
    assert LOG4J2_CONFIG.is_file()
    assert driver_java_options(None) == f"-Dlog4j2.configurationFile=file:{LOG4J2_CONFIG}"
    assert driver_java_options("-Xss4m").startswith("-Xss4m -Dlog4j2.configurationFile=")
    own = "-Dlog4j2.configurationFile=file:/etc/spark/log4j2.properties"
    assert driver_java_options(own) == own
    text = LOG4J2_CONFIG.read_text()
    assert "rootLogger.level = warn" in text and "target = SYSTEM_ERR" in text
