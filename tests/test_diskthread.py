"""The async mode's disk thread: off the event loop, batched, each caller gets its own outcome."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from flags_async import _diskthread
from flags_async._diskthread import DiskThread


def record_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    real = _diskthread._call_all

    def call_all(calls: list[Any], lock: Any) -> list[tuple[bool, Any]]:
        sizes.append(len(calls))
        return real(calls, lock)

    monkeypatch.setattr(_diskthread, "_call_all", call_all)
    return sizes


def test_calls_run_in_a_worker_thread_and_return_their_results() -> None:
    async def main() -> list[tuple[int, int]]:
        disk = DiskThread()
        return await asyncio.gather(*(disk.run(lambda n: (n * n, threading.get_ident()), n)
                                      for n in range(5)))

    results = asyncio.run(main())
    assert [square for square, _ in results] == [0, 1, 4, 9, 16]
    assert threading.get_ident() not in {thread for _, thread in results}


def test_the_event_loop_keeps_running_while_a_call_blocks() -> None:
    release = threading.Event()

    async def main() -> int:
        disk = DiskThread()
        blocked = asyncio.create_task(disk.run(release.wait, 5))
        ticks = 0
        while ticks < 10:  # the loop is free: this runs while the worker is stuck
            await asyncio.sleep(0.001)
            ticks += 1
        release.set()
        assert await blocked is True
        return ticks

    assert asyncio.run(main()) == 10


def test_calls_that_pile_up_while_the_worker_is_busy_go_over_in_one_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes = record_batches(monkeypatch)
    started, release = threading.Event(), threading.Event()

    def first() -> str:
        started.set()
        release.wait(5)
        return "first"

    async def main() -> list[str]:
        disk = DiskThread()
        head = asyncio.create_task(disk.run(first))
        await asyncio.to_thread(started.wait, 5)
        rest = [asyncio.create_task(disk.run(str, n)) for n in range(5)]
        await asyncio.sleep(0)  # all five are queued behind the busy worker
        release.set()
        return [await head] + [await task for task in rest]

    assert asyncio.run(main()) == ["first", "0", "1", "2", "3", "4"]
    assert sizes == [1, 5]


def test_an_exception_reaches_only_its_own_caller() -> None:
    def fail() -> None:
        raise OSError(28, "No space left on device")

    async def main() -> list[object]:
        disk = DiskThread()
        return await asyncio.gather(disk.run(str, 1), disk.run(fail), disk.run(str, 3),
                                    return_exceptions=True)

    first, failure, third = asyncio.run(main())
    assert (first, third) == ("1", "3")
    assert isinstance(failure, OSError) and failure.strerror == "No space left on device"


def test_a_caller_cancelled_while_its_call_runs_still_gets_the_outcome() -> None:
    """Ctrl-C mid-save: the file is being written, so its caller waits for it and returns the
    result (to be counted), however often it is cancelled; the other callers get theirs."""
    started, release = threading.Event(), threading.Event()

    def slow(value: str) -> str:
        started.set()
        release.wait(5)
        return value

    async def main() -> tuple[str, int, str]:
        disk = DiskThread()
        running = asyncio.create_task(disk.run(slow, "saved"))
        kept = asyncio.create_task(disk.run(str, "kept"))
        await asyncio.to_thread(started.wait, 5)
        running.cancel()
        await asyncio.sleep(0.05)
        assert not running.done()  # still waiting for its call, not abandoning it
        running.cancel()
        await asyncio.sleep(0.05)
        release.set()
        outcome = await asyncio.wait_for(running, 5)
        return outcome, running.cancelling(), await asyncio.wait_for(kept, 5)

    assert asyncio.run(main()) == ("saved", 0, "kept")


def test_callers_are_cancelled_not_left_waiting_when_the_hand_off_is_cancelled() -> None:
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "late"

    async def main() -> None:
        disk = DiskThread()
        caller = asyncio.create_task(disk.run(slow))
        await asyncio.to_thread(started.wait, 5)
        assert disk._flusher is not None
        disk._flusher.cancel()  # as asyncio.run does to every task when the run is interrupted
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(caller, 5)
        release.set()

    asyncio.run(main())


def test_a_failed_hand_off_reaches_every_caller_of_the_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("cannot schedule new futures after shutdown")

    monkeypatch.setattr(_diskthread.asyncio, "to_thread", broken)

    async def main() -> list[object]:
        disk = DiskThread()
        return await asyncio.wait_for(
            asyncio.gather(disk.run(str, 1), disk.run(str, 2), return_exceptions=True), 5)

    outcomes = asyncio.run(main())
    assert [type(o) for o in outcomes] == [RuntimeError, RuntimeError]


def test_a_call_whose_caller_was_cancelled_before_it_started_never_runs() -> None:
    """Ctrl-C: a save not yet begun must not write a file the report will not count."""
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def slow() -> None:
        started.set()
        release.wait(5)

    async def main() -> None:
        disk = DiskThread()
        first = asyncio.create_task(disk.run(slow))
        same_batch = asyncio.create_task(disk.run(ran.append, "same batch"))
        await asyncio.to_thread(started.wait, 5)  # the worker holds both, and runs `slow`
        next_batch = asyncio.create_task(disk.run(ran.append, "next batch"))
        await asyncio.sleep(0)  # queued behind the running batch
        same_batch.cancel()
        next_batch.cancel()
        # Not begun: both callers are let go at once, without waiting for the busy worker.
        done, _ = await asyncio.wait({same_batch, next_batch}, timeout=5)
        assert done == {same_batch, next_batch}
        assert same_batch.cancelled() and next_batch.cancelled()
        release.set()
        await asyncio.wait_for(first, 5)
        await asyncio.wait_for(disk.run(ran.append, "live"), 5)  # the worker carries on

    asyncio.run(main())
    assert ran == ["live"]
