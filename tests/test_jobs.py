"""The job store on a real Redis: transitions, monotonic progress, deduplicated events."""

from __future__ import annotations

import time

import pytest

from ethos_testing.procs import RedisServer
from shared.jobs import JobStore, connect, new_job_id, object_key, utcnow
from shared.schemas import JobRecord, JobStatus, MediaInfo, SegmentEvent


@pytest.fixture
def store(redis_server: RedisServer) -> JobStore:
    return JobStore(connect(redis_server.url), prefix=f"t{new_job_id()}")


def new(store: JobStore) -> str:
    job_id = new_job_id()
    store.create(JobRecord(id=job_id, status=JobStatus.queued, stage="queued", created_at=utcnow(),
                           media=MediaInfo(filename="a.wav"), media_key=object_key(job_id, "input.wav")))
    return job_id


def test_lifecycle_and_terminal_states_stick(store: JobStore) -> None:
    job_id = new(store)
    assert store.start(job_id, "probing")
    assert store.start(job_id, "probing")  # a redelivered first task carries on
    assert store.succeed(job_id, "jobs/x/result.json")
    assert not store.fail(job_id, "late", "a late failure must not reopen the job")
    rec = store.get(job_id)
    assert rec is not None and rec.status == JobStatus.succeeded and rec.error is None
    assert not store.cancel(job_id)


def test_progress_only_moves_forward(store: JobStore) -> None:
    job_id = new(store)
    store.start(job_id, "probing")
    store.set_plan(job_id, ["stt", "fer"], {"fer": 1})
    store.part_progress(job_id, "stt", 1.0, "transcribing")
    p1 = store.get(job_id).progress  # type: ignore[union-attr]
    store.part_progress(job_id, "stt", 0.2, "transcribing")  # a redelivered task restarting
    assert store.get(job_id).progress == p1  # type: ignore[union-attr]
    store.part_progress(job_id, "fer", 1.0, "faces")
    assert store.get(job_id).progress == pytest.approx(0.9)  # type: ignore[union-attr]
    progress = [e["progress"] for _, e in store.events(job_id) if e["type"] == "progress"]
    assert progress == sorted(progress)


def test_events_replay_and_dedupe(store: JobStore) -> None:
    job_id = new(store)
    store.start(job_id, "probing")
    seg = SegmentEvent(job_id=job_id, id=1, start=0, end=1, text="hi", emotion="Neutral",
                       valence=0, arousal=0)
    assert store.emit(seg, dedupe="segment:1")
    assert store.emit(seg, dedupe="segment:1") is None
    store.fail(job_id, "unsupported_media", "nope")
    types = [e["type"] for _, e in store.events(job_id)]
    assert types == ["status", "status", "segment", "error", "status"]
    first_id = store.events(job_id)[0][0]
    assert len(store.events(job_id, after=first_id)) == 4
    assert all(e["job_id"] == job_id for _, e in store.events(job_id))


def test_unfinished_job_slots(store: JobStore) -> None:
    """A key's slots: reservations and unfinished jobs count, a recorded job keeps its slot
    until its status is final (whatever ends it), a refused upload gives its back, a reservation
    left behind lapses, a renewal takes no second slot, and keys are apart."""
    from shared.jobs.slots import SLOT_TTL_S

    def owned(job_id: str) -> None:
        store.create(JobRecord(id=job_id, status=JobStatus.queued, stage="queued", created_at=utcnow(),
                               media=MediaInfo(filename="a.wav"), media_key=object_key(job_id, "in"), owner="k1"))

    a, b, c, d = (new_job_id() for _ in range(4))
    assert store.reserve_slot("k1", a, 2) and store.reserve_slot("k1", b, 2)
    assert store.reserve_slot("k1", a, 2)  # renewed, not a second slot
    assert not store.reserve_slot("k1", c, 2)
    assert store.reserve_slot("k2", c, 2)  # another key
    owned(a)  # the reservation becomes the job's place: still two taken
    assert not store.reserve_slot("k1", c, 2)
    store.release_slot("k1", b)  # b's upload was refused
    assert store.reserve_slot("k1", c, 2)
    owned(c)
    assert not store.reserve_slot("k1", d, 2)
    for end in (lambda: store.cancel(a), lambda: store.fail(c, "lost", "reaped")):
        end()  # a final status frees the slot, once
        assert store.reserve_slot("k1", d, 2)
        store.release_slot("k1", d)
    store.purge(c)
    later = new_job_id()
    assert store.reserve_slot("k1", later, 1)
    assert not store.reserve_slot("k1", d, 1)
    assert store.reserve_slot("k1", d, 1, now=time.time() + SLOT_TTL_S + 1)  # a lost gateway's lapses
