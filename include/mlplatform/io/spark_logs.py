"""The Spark driver's own output, routed into Python logging at its real level.

PySpark's JVM inherits the task's stderr, and Airflow labels every stderr line ERROR, so a
successful task read like a failed one. Here the JVM gets the platform's log4j2 configuration
(``log4j2.properties``: one ``LEVEL logger: message`` line per record, start-up banner and known
noise quiet) and a pipe instead of the task's stderr; a daemon thread reads the pipe and logs each
record to ``spark.<logger>`` at its own level. Lines that are not log4j records (a Python worker's
warning, a stack trace's frames) go to ``spark.stderr`` at WARNING, or with the record they follow.
"""

from __future__ import annotations

import logging
import os
import re
import select
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark import SparkConf

LOG4J2_CONFIG = Path(__file__).with_name("log4j2.properties")
LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
}
_RECORD = re.compile(r"^(TRACE|DEBUG|INFO|WARN|ERROR|FATAL) ([\w.$-]+): (.*)$")
# What the JVM itself prints at start, about its own options: noise in every task log.
# SLF4J's "no binder" notice comes from the AWS SDK bundle, which logs through SLF4J 1 (nothing to log).
_QUIET = re.compile(
    r"^WARNING: Using incubator modules|^Picked up (JAVA_TOOL_OPTIONS|_JAVA_OPTIONS)"
    r"|^SLF4J: (Failed to load class \"org\.slf4j\.impl\.StaticLoggerBinder\"|Defaulting to no-operation"
    r"|See http://www\.slf4j\.org/codes\.html#StaticLoggerBinder)"
)
_CONTINUATION = re.compile(
    r"^(\s+at |\s+\.\.\. \d+ more|Caused by: |\s*Suppressed: |[\w.$]+(Exception|Error)\b)"
)


def driver_java_options(existing: str | None) -> str:
    """``spark.driver.extraJavaOptions`` with the platform's log4j2 configuration (a user's stays)."""
    option = f"-Dlog4j2.configurationFile=file:{LOG4J2_CONFIG}"
    if existing and "log4j2.configurationFile" in existing:
        return existing
    return f"{existing} {option}".strip() if existing else option


class LogRelay:
    """Turns the JVM's output lines into Python log records: a log4j record with the lines that
    continue it (a stack trace) is one record at its own level; any other line is a warning."""

    def __init__(self, logger_prefix: str = "spark") -> None:
        self.prefix = logger_prefix
        self.pending: tuple[logging.Logger, int, list[str]] | None = None

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if not line.strip() or _QUIET.match(line):
            return
        match = _RECORD.match(line)
        if match:
            self.flush()
            level, name, message = match.groups()
            logger = logging.getLogger(f"{self.prefix}.{name.rsplit('.', 1)[-1]}")
            self.pending = (logger, LEVELS[level], [message])
        elif self.pending is not None and _CONTINUATION.match(line):
            self.pending[2].append(line)
        else:
            self.flush()
            logging.getLogger(f"{self.prefix}.stderr").warning(line)

    def flush(self) -> None:
        if self.pending is not None:
            logger, level, lines = self.pending
            self.pending = None
            logger.log(level, "\n".join(lines))


def relay_fd(fd: int, relay: LogRelay | None = None, idle_s: float = 0.5) -> None:
    """Relay the lines read from ``fd`` until it closes; a record is logged once ``idle_s`` passes
    without a line that continues it."""
    relay = relay or LogRelay()
    buffer = b""
    while True:
        ready, _, _ = select.select([fd], [], [], idle_s)
        if not ready:
            relay.flush()
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        *lines, buffer = (buffer + chunk).split(b"\n")
        for line in lines:
            relay.feed(line.decode("utf-8", errors="replace"))
    if buffer:
        relay.feed(buffer.decode("utf-8", errors="replace"))
    relay.flush()
    os.close(fd)


def launch_gateway_with_relay(conf: SparkConf) -> Any:
    """Start the Py4J gateway JVM with its stdout and stderr read into Python logging."""
    from pyspark.java_gateway import launch_gateway

    read_fd, write_fd = os.pipe()
    try:
        gateway = launch_gateway(conf, popen_kwargs={"stdout": write_fd, "stderr": write_fd})
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)  # the JVM holds its own copy; EOF comes when it and its workers exit
    logging.getLogger("py4j").setLevel(logging.WARNING)  # one INFO line per closed connection
    threading.Thread(target=relay_fd, args=(read_fd,), name="spark-log-relay", daemon=True).start()
    return gateway


class SparkProgress:
    """While a step runs, log the active Spark stages every ``every_s`` seconds (a long step's
    progress: stage name, tasks done of all, percentage); silent while no stage runs."""

    def __init__(self, spark: Any, label: str, every_s: float = 15.0) -> None:
        self.tracker = spark.sparkContext.statusTracker()
        self.label, self.every_s = label, every_s
        self.log = logging.getLogger("mlplatform.progress")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"progress-{label}", daemon=True)

    def __enter__(self) -> SparkProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def line(self) -> str | None:
        """The progress line for the stages running now, or None when none runs."""
        parts = []
        for stage_id in sorted(self.tracker.getActiveStageIds()):
            info = self.tracker.getStageInfo(stage_id)
            if info is None or not info.numTasks:
                continue
            done = info.numCompletedTasks
            name = info.name.split(" at ", 1)[0]
            parts.append(
                f"stage {stage_id} ({name}) {done}/{info.numTasks} tasks, {100 * done // info.numTasks}%"
            )
        return f"{self.label} in progress: " + "; ".join(parts) if parts else None

    def _watch(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                line = self.line()
            except Exception:  # the driver went away mid-step: the step itself reports that
                return
            if line:
                self.log.info(line)
