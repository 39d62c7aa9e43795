"""``server.eager.start_eagerly``: a task whose first step has run before
the call returns, as the task's own (its context, ``current_task``); from
then on it is cancelled, fails and finishes as a task that ran the
coroutine from the start."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from server.eager import start_eagerly

SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="caller's")


async def test_a_coroutine_that_never_waits_has_finished_before_the_call_returns() -> None:
    steps: list[str] = []

    async def mark() -> str:
        steps.append(SEEN.get())
        SEEN.set("changed inside")
        return "done"

    context = contextvars.copy_context()
    context.run(SEEN.set, "its own")
    task = start_eagerly(mark(), context)
    assert steps == ["its own"]
    assert context[SEEN] == "changed inside" and SEEN.get() == "caller's"
    task.cancel()  # too late: it finished in its first step, as an eager task
    assert await task == "done"


async def test_the_first_step_runs_as_the_tasks_own() -> None:
    caller = asyncio.current_task()
    seen: list[asyncio.Task[None] | None] = []

    async def look() -> None:
        seen.append(asyncio.current_task())

    task = start_eagerly(look(), contextvars.copy_context())
    assert seen == [task] and asyncio.current_task() is caller
    await task


async def test_outside_a_task_and_nested_the_current_task_is_given_back() -> None:
    loop = asyncio.get_running_loop()
    seen: list[object] = []

    async def inner() -> None:
        seen.append(asyncio.current_task())

    async def outer() -> None:
        seen.append(asyncio.current_task())
        nested = start_eagerly(inner(), contextvars.copy_context())
        seen.extend([nested, asyncio.current_task()])
        await nested

    started: asyncio.Future[asyncio.Task[None]] = loop.create_future()

    def from_a_callback() -> None:  # no task is current here
        started.set_result(start_eagerly(outer(), contextvars.copy_context()))
        seen.append(asyncio.current_task())

    loop.call_soon(from_a_callback)
    task = await started
    await task
    outer_seen, inner_seen, nested, outer_again, after = seen
    assert outer_seen is task and inner_seen is nested and outer_again is task
    assert after is None


async def test_the_task_shows_its_coroutine() -> None:
    gate, _, task = waiting_on_a_gate()
    assert "waits" in repr(task) and task.get_stack()
    gate.set_result(None)
    await task


async def test_a_timeout_entered_in_the_first_step_times_out_the_call_not_the_caller() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def waits_too_long() -> str:
        try:
            async with asyncio.timeout(0.01):
                await never
        except TimeoutError:
            return "timed out"
        return "not timed out"

    task = start_eagerly(waits_too_long(), contextvars.copy_context())
    await asyncio.wait({task})  # not cancelled by the timeout, as it would be were it current
    assert task.result() == "timed out"


async def test_the_rest_runs_in_a_task_of_the_same_context_with_the_result() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[int] = loop.create_future()
    steps: list[str] = []

    async def two_steps() -> str:
        steps.append("first")
        SEEN.set("set in the first step")
        got = await gate
        steps.append(f"then {got}")
        assert asyncio.current_task() is task  # its own task from then on
        return SEEN.get()

    task = start_eagerly(two_steps(), contextvars.copy_context())
    assert steps == ["first"]
    gate.set_result(7)
    assert await task == "set in the first step"
    assert steps == ["first", "then 7"] and SEEN.get() == "caller's"


async def test_a_bare_yield_goes_on_in_the_next_iteration() -> None:
    async def yields() -> str:
        await asyncio.sleep(0)
        return "after"

    task = start_eagerly(yields(), contextvars.copy_context())
    assert await task == "after"


def waiting_on_a_gate() -> tuple[asyncio.Future[None], list[str], asyncio.Task[None]]:
    """A coroutine started eagerly that waits for a gate, noting whether it
    was cancelled and whether it went on: the gate, the notes, its task."""
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def waits() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        seen.append("went on")

    return gate, seen, start_eagerly(waits(), contextvars.copy_context())


@pytest.mark.parametrize("before_its_first_step", [True, False])
async def test_a_cancelled_rest_is_cancelled_where_it_waits(before_its_first_step: bool) -> None:
    gate, seen, task = waiting_on_a_gate()
    if not before_its_first_step:
        await asyncio.sleep(0)  # the task now waits for the gate
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"] and task.cancelled()
    assert gate.cancelled()  # what it waited for, as a task's cancel does


async def test_a_cancellation_that_comes_as_the_wait_ends_is_not_lost() -> None:
    gate, seen, task = waiting_on_a_gate()
    await asyncio.sleep(0)
    gate.set_result(None)  # the task is woken, but has not run yet
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]


async def test_a_rest_not_cancelled_goes_on_once_its_wait_ends() -> None:
    gate, seen, task = waiting_on_a_gate()
    gate.set_result(None)
    await task
    assert seen == ["went on"]


async def test_what_the_first_step_raises_the_task_holds() -> None:
    async def refuses() -> None:
        raise ValueError("refused at once")

    task = start_eagerly(refuses(), contextvars.copy_context())
    with pytest.raises(ValueError, match="refused at once"):
        await task


async def test_a_first_step_that_failed_ends_failed_even_if_cancelled_before_its_task_ran() -> None:
    async def refuses() -> None:
        raise ValueError("refused at once")

    task = start_eagerly(refuses(), contextvars.copy_context())
    task.cancel()
    with pytest.raises(ValueError, match="refused at once"):
        await task


async def test_a_cancellation_caught_before_the_first_step_lets_it_wait_again() -> None:
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()

    async def catches() -> str:
        try:
            await first
        except asyncio.CancelledError:
            return await second
        return "not cancelled"

    task = start_eagerly(catches(), contextvars.copy_context())
    task.cancel()  # before its first step: what it waits for is cancelled
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    second.set_result("waited again")
    assert await task == "waited again" and first.cancelled()


async def test_what_the_rest_raises_the_task_holds() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def fails_later() -> None:
        await gate
        raise ValueError("failed later")

    task = start_eagerly(fails_later(), contextvars.copy_context())
    gate.set_result(None)
    with pytest.raises(ValueError, match="failed later"):
        await task
