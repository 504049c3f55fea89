"""``driver_problem``: how the session factory tells a live Spark driver from a dead one (no JVM)."""

from __future__ import annotations

import pytest
from py4j.protocol import Py4JNetworkError

from mlplatform.io import spark as factory


class FakeJvmContext:
    def __init__(self, stopped: bool = False, error: Exception | None = None) -> None:
        self.stopped, self.error, self.calls = stopped, error, 0

    def isStopped(self) -> bool:  # noqa: N802 (the JVM's naming)
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.stopped


class FakeJsc:
    def __init__(self, jvm_context: FakeJvmContext) -> None:
        self.jvm_context, self.sc_calls = jvm_context, 0

    def sc(self) -> FakeJvmContext:
        self.sc_calls += 1
        return self.jvm_context


class FakeContext:
    def __init__(self, jsc: FakeJsc | None) -> None:
        self._jsc = jsc


@pytest.fixture(autouse=True)
def _no_cached_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "_jvm_context", None)


def test_a_live_driver_costs_one_call_per_check_after_the_first() -> None:
    jsc = FakeJsc(FakeJvmContext())
    sc = FakeContext(jsc)
    assert [factory.driver_problem(sc) for _ in range(3)] == [None, None, None]  # type: ignore[arg-type]
    assert jsc.sc_calls == 1, "the JVM-side context is looked up once and cached"
    assert jsc.jvm_context.calls == 3


def test_a_stopped_context_is_a_problem_with_or_without_its_java_handle() -> None:
    assert factory.driver_problem(FakeContext(None)) == factory.CONTEXT_STOPPED  # type: ignore[arg-type]
    stopped = FakeContext(FakeJsc(FakeJvmContext(stopped=True)))
    assert factory.driver_problem(stopped) == factory.CONTEXT_STOPPED  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error",
    [Py4JNetworkError("Answer from Java side is empty"), ConnectionRefusedError(111, "refused"), OSError()],
)
def test_a_jvm_that_does_not_answer_is_gone(error: Exception) -> None:
    sc = FakeContext(FakeJsc(FakeJvmContext(error=error)))
    assert factory.driver_problem(sc) == factory.JVM_GONE  # type: ignore[arg-type]


def test_a_new_context_is_not_checked_through_the_old_ones_cached_handle() -> None:
    old = FakeJsc(FakeJvmContext(error=Py4JNetworkError("gone")))
    assert factory.driver_problem(FakeContext(old)) == factory.JVM_GONE  # type: ignore[arg-type]
    fresh = FakeJsc(FakeJvmContext())
    assert factory.driver_problem(FakeContext(fresh)) is None  # type: ignore[arg-type]
    assert fresh.sc_calls == 1
