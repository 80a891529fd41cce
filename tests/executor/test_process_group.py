"""Real processes under the reaper: exit codes and signals, output, stopping a process group."""

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from activities.process_group import Exit, ProcessGroup, Reapers
from tests.executor.procs import alive, group_members, identity, members, until

ENV = {"PATH": os.environ["PATH"]}


async def _start(tmp_path: Path, *argv: str) -> ProcessGroup:
    return await ProcessGroup.start(list(argv), ENV, tmp_path)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("exit 0", Exit(0, None)),
        ("exit 3", Exit(3, None)),
        ("exit 255", Exit(255, None)),
        ("kill -KILL $$", Exit(None, signal.SIGKILL)),
        ("kill -TERM $$", Exit(None, signal.SIGTERM)),
    ],
)
async def test_exit_code_or_signal(tmp_path: Path, script: str, expected: Exit):
    group = await _start(tmp_path, "/bin/sh", "-c", script)
    assert await group.wait() == expected


async def test_a_command_that_cannot_run_exits_127_with_the_reason(tmp_path: Path):
    group = await _start(tmp_path, "no-such-command-here")
    assert (
        await group.stderr.read()
        == b"tempoline: cannot run 'no-such-command-here': No such file or directory\n"
    )
    assert await group.wait() == Exit(127, None)


async def test_env_and_cwd_are_the_jobs(tmp_path: Path):
    group = await ProcessGroup.start(
        ["/bin/sh", "-c", 'echo "$GREETING"; pwd'], {**ENV, "GREETING": "hé"}, tmp_path
    )
    assert (await group.stdout.read()).decode() == f"hé\n{tmp_path}\n"
    await group.wait()


async def test_stop_kills_every_process_of_the_group(tmp_path: Path):
    group = await _start(tmp_path, "/bin/sh", "-c", "sleep 600 & sleep 600")
    running = await members(group.pid, 2)
    started = time.monotonic()
    end = await group.stop(grace_seconds=5)
    took = time.monotonic() - started
    assert end == Exit(None, signal.SIGTERM)
    assert not [p for p in running if alive(p)]
    print(f"SIGTERM to a group of {len(running)} until every process is gone: {took * 1000:.1f} ms")
    assert took < 1


async def test_stop_escalates_to_sigkill_after_the_grace_period(tmp_path: Path):
    # A shell that ignores SIGTERM, with a child that ignores it too.
    group = await _start(
        tmp_path, "/bin/sh", "-c", "trap '' TERM; sh -c \"trap '' TERM; sleep 600\" & sleep 600"
    )
    running = await members(group.pid, 3)
    started = time.monotonic()
    end = await group.stop(grace_seconds=0.5)
    took = time.monotonic() - started
    assert end == Exit(None, signal.SIGKILL)
    assert not [p for p in running if alive(p)]
    assert 0.5 <= took < 2


async def test_processes_left_behind_by_a_finished_job_are_killed(tmp_path: Path):
    # The main process exits (half a second on, so that the test sees its child alive first: at
    # once, a loaded machine lets the reaper kill the child before the test reads it); its
    # background child would hold the pipes for ten minutes.
    group = await _start(tmp_path, "/bin/sh", "-c", "sleep 600 & echo $!; sleep 0.5")
    straggler = identity(int((await group.stdout.readline()).decode()))
    assert straggler is not None
    assert await group.wait() == Exit(0, None)
    assert await group.stdout.read() == b""  # the pipe ended: nothing holds it any more
    assert not alive(straggler)


async def test_a_process_that_left_the_group_is_killed_too(tmp_path: Path):
    # setsid takes it out of the group (killpg misses it); the reaper, its subreaper, does not.
    group = await _start(tmp_path, "/bin/sh", "-c", "setsid sleep 600 & echo $!; sleep 600")
    escaped = identity(int((await group.stdout.readline()).decode()))
    assert escaped is not None
    await until(lambda: escaped not in group_members(group.pid), what="setsid to take it out of the group")
    await group.stop(grace_seconds=5)
    assert not alive(escaped)


@pytest.mark.parametrize("after", [0.0, 0.005, 0.01, 0.02, 0.04])
async def test_cancelled_while_starting_leaves_nothing_running(tmp_path: Path, after: float):
    pidfile = tmp_path / "pid"
    script = f"echo $$ > {pidfile}; sleep 600"
    starting = asyncio.create_task(ProcessGroup.start(["/bin/sh", "-c", script], ENV, tmp_path))
    await asyncio.sleep(after)
    starting.cancel()
    try:
        group = await starting
    except asyncio.CancelledError:
        await asyncio.sleep(0.3)  # a job the cancel missed has written its pid by now
        if pidfile.exists():
            job = identity(int(pidfile.read_text()))
            assert job is None or not alive(job)
    else:  # started before the cancel landed: the caller owns it
        await group.stop(grace_seconds=1)


async def test_a_double_forked_daemon_dies_when_the_job_ends(tmp_path: Path):
    # Its parent exits at once, so it is an orphan in another session; the reaper inherits it.
    script = "(setsid sh -c 'sleep 600 & echo $!' &); sleep 0.3"
    group = await _start(tmp_path, "/bin/sh", "-c", script)
    daemon = identity(int((await group.stdout.readline()).decode()))
    assert daemon is not None and alive(daemon)
    assert await group.wait() == Exit(0, None)
    assert not alive(daemon)


async def test_the_reaper_servers_death_ends_its_jobs_and_the_next_job_gets_a_new_server(tmp_path: Path):
    group = await _start(tmp_path, "/bin/sh", "-c", "sleep 600 & sleep 600")
    running = await members(group.pid, 2)
    server = Reapers.of_this_thread()
    os.kill(server.pid, signal.SIGKILL)  # e.g. the OOM killer's choice
    # Its reapers hear of it (their PR_SET_PDEATHSIG) and kill their jobs' groups.
    assert await asyncio.wait_for(group.wait(), 10) == Exit(None, signal.SIGKILL)
    assert not [p for p in running if alive(p)]
    await group.close()
    again = await _start(tmp_path, "/bin/sh", "-c", "echo again")
    assert Reapers.of_this_thread().pid != server.pid
    assert await again.stdout.read() == b"again\n"
    assert await again.wait() == Exit(0, None)
    await again.close()


async def test_a_job_started_as_the_server_dies_runs_on_a_new_one(tmp_path: Path):
    os.kill(Reapers.of_this_thread().pid, signal.SIGKILL)  # not waited for: it may look alive
    group = await _start(tmp_path, "/bin/sh", "-c", "echo ran")
    assert await group.stdout.read() == b"ran\n"
    assert await group.wait() == Exit(0, None)
    await group.close()
