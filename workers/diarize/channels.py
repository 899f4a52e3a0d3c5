"""Speakers of a two-channel recording by channel: a call or an interview recorded one party a
side (a telephone system's stereo file, two microphones on two tracks) says who speaks in its
channels, more surely than voices do (two similar voices, a short answer, both talking at once).

``cpu.prepare`` keeps, per 0.1 s, each channel's level and how alike the two channels are
(``workers.cpu.media.channel_levels``) as ``diarize/channels.npy`` when the first audio stream
has two channels. Here, over the speech regions of the mixed audio, a channel is *active* in a
frame when it is within ``ACTIVE_DB`` of its own loud level (its 90th percentile there) and
above ``FLOOR_DB``; the frame is *shared* when both are active and the channels are alike
(``ALIKE`` or more: one sound on both sides). A channel *speaks on its own* in an active frame
that is not shared and where it is no more than ``BLEED_DB`` under the other (not the other
party's echo). The recording counts as one party a side when each channel speaks on its own
for ``MIN_OWN_S`` at least, is the louder by ``LOUDER_DB`` for ``MIN_LOUDER_S`` at least, and
under half of the speech frames are shared: a stereo copy of a mono recording, a voice panned
to one side, one voice picked up by two microphones (even far apart, with different echoes),
one party over the other line's hiss or echo stays with the voices. So does a recording whose
voices count more than two with the automatic count (two people on one side's speakerphone),
and one whose channel turns come out as a single speaker. Then each channel is one speaker, speaking where it is active and not under
the other by ``BLEED_DB``; where both speak at once, the louder one has the moment (the
turns keep one speaker per moment, as with the voices) and the stretch is an overlap (louder
side first), in place of the segmentation model's.

A count other than two (``num_speakers=3``, bounds without 2) leaves the voices to decide, so a
user who knows better still gets the embeddings' clustering.
"""

from __future__ import annotations

import io

import numpy as np

from shared import objects
from shared.schemas import DiarizeOutput, Overlap, SpeakerTurn
from shared.settings import DiarizeSettings
from shared.storage.base import Storage
from workers.diarize.cluster import SpeakerCount
from workers.diarize.overlap import OverlapSettings, labels_at
from workers.diarize.turns import make_turns

FRAME_S = 0.1  # workers.cpu.media.LEVEL_FRAME_S
ACTIVE_DB = 30.0
FLOOR_DB = -60.0
ALIKE = 0.5
BLEED_DB = 20.0
MIN_OWN_S = 1.0
LOUDER_DB = 3.0
MIN_OVERLAP_S = OverlapSettings.min_overlap_s
MIN_LOUDER_S = 0.5


def load(storage: Storage, job_id: str) -> np.ndarray | None:
    """The levels prepare stored (``workers.cpu.media.levels_npy``), or None (a mono recording, or one prepared before)."""
    try:
        levels = np.load(io.BytesIO(storage.get_bytes(objects.channel_levels(job_id))))
    except Exception:  # noqa: BLE001 - absent (not a two-channel recording) or unreadable: the voices decide
        return None
    return levels.astype(np.float32) if levels.ndim == 2 and levels.shape[1] == 3 else None


def speech_frames(levels: np.ndarray, regions: list[tuple[float, float]]) -> np.ndarray:
    """Indices of the level frames whose centre lies in a speech region."""
    if not regions:
        return np.zeros(0, dtype=np.int64)
    centres = (np.arange(len(levels)) + 0.5) * FRAME_S
    starts, ends = np.array(regions, dtype=np.float64).T  # sorted, apart (the VAD's)
    k = np.searchsorted(starts, centres, side="right") - 1
    return np.flatnonzero((k >= 0) & (centres < ends[np.maximum(k, 0)]))


def channel_activity(levels: np.ndarray, regions: list[tuple[float, float]]) -> np.ndarray | None:
    """``(frames, 2)`` booleans, where each channel speaks, when the channels carry one party
    each (see the module text), else None."""
    idx = speech_frames(levels, regions)
    if len(idx) == 0:
        return None
    db, alike = levels[idx, :2], levels[idx, 2]
    loud = np.percentile(db, 90, axis=0)
    active = (db >= np.maximum(FLOOR_DB, loud - ACTIVE_DB)) & (db > -119.0)
    shared = active.all(axis=1) & (alike >= ALIKE)
    if shared.sum() >= 0.5 * len(idx):
        return None
    not_bleed = db >= db[:, ::-1] - BLEED_DB
    own = active & not_bleed & ~shared[:, None]
    if own.sum(axis=0).min() * FRAME_S < MIN_OWN_S:
        return None
    # Each side clearly the louder one part of the time: two parties, not one voice heard by two
    # microphones or one party over a line's hiss or echo.
    louder = active & (db >= db[:, ::-1] + LOUDER_DB)
    if louder.sum(axis=0).min() * FRAME_S < MIN_LOUDER_S:
        return None
    speaks = np.zeros((len(levels), 2), dtype=bool)
    speaks[idx] = active & not_bleed
    return speaks


def channel_turns(levels: np.ndarray, speaks: np.ndarray, regions: list[tuple[float, float]],
                  min_turn_s: float) -> list[SpeakerTurn]:
    """One speaker per channel, one per moment as the voices' turns are: each frame where a
    channel speaks goes to the louder of the channels speaking, and the turns are built from
    those labels (``turns.make_turns``: runs under ``min_turn_s`` absorbed, ``SPEAKER_00`` the
    first to speak)."""
    idx = np.flatnonzero(speaks.any(axis=1))
    if len(idx) == 0:
        return []
    left_louder = levels[idx, 0] >= levels[idx, 1]
    labels = np.where(speaks[idx, 0] & (~speaks[idx, 1] | left_louder), 0, 1)
    starts = idx * FRAME_S
    return make_turns(regions, starts, starts + FRAME_S, labels, min_turn_s)


def channel_overlaps(levels: np.ndarray, speaks: np.ndarray, turns: list[SpeakerTurn]) -> list[Overlap]:
    """Where both channels speak for ``MIN_OVERLAP_S`` or more: overlaps, cut at the turns'
    borders, the turn's speaker first."""
    speakers = sorted({t.speaker for t in turns})
    if not speakers:
        return []
    held = labels_at((np.arange(len(levels)) + 0.5) * FRAME_S, turns, speakers)
    names = {}
    for c in (0, 1):  # each channel's speaker: the turns' one where that side is the louder
        votes = held[speaks[:, c] & (levels[:, c] >= levels[:, 1 - c]) & (held >= 0)]
        if not len(votes):
            return []
        names[c] = speakers[int(np.bincount(votes).argmax())]
    if names[0] == names[1]:
        return []
    out: list[Overlap] = []
    both = [bool(a and b) for a, b in speaks.tolist()]
    i = 0
    while i < len(both):
        if not both[i]:
            i += 1
            continue
        j = i
        while j < len(both) and both[j]:
            j += 1
        a, b = i * FRAME_S, j * FRAME_S
        for t in turns:  # split at the turns' borders: each piece's first speaker is the turn's
            lo, hi = max(a, t.start), min(b, t.end)
            if hi - lo >= MIN_OVERLAP_S - 1e-9 and t.speaker in names.values():
                other = names[1] if t.speaker == names[0] else names[0]
                out.append(Overlap(start=round(lo, 3), end=round(hi, 3), speakers=[t.speaker, other]))
        i = j
    return out


def allows_two(count: SpeakerCount) -> bool:
    """Whether the count (exact or bounds) the caller gave admits two speakers."""
    lo, hi = count.bounds()
    return lo <= 2 <= hi


def apply(out: DiarizeOutput, levels: np.ndarray | None, regions: list[tuple[float, float]],
          count: SpeakerCount, cfg: DiarizeSettings) -> DiarizeOutput:
    """``out`` with its turns (and overlaps, where both sides speak at once, when
    ``cfg.overlap``) taken from the channels when they carry one party each and the count
    allows two speakers; else ``out`` unchanged."""
    if levels is None or len(levels) == 0 or not allows_two(count):
        return out
    if count.num is None and out.speakers > 2:  # more voices than sides (a speakerphone's room)
        return out
    speaks = channel_activity(levels, regions)
    if speaks is None:
        return out
    turns = channel_turns(levels, speaks, regions, cfg.min_turn_s)
    if len({t.speaker for t in turns}) < 2:
        return out
    overlaps = channel_overlaps(levels, speaks, turns) if cfg.overlap else []
    extra = {**(out.model.extra or {}), "speakers_by": "channel"}
    if cfg.overlap:
        extra["overlap"] = {"model": "channels", "min_s": MIN_OVERLAP_S}
    model = out.model.model_copy(update={"extra": extra})
    return out.model_copy(update={"turns": turns, "model": model, "speakers": len({t.speaker for t in turns}),
                                  "overlaps": overlaps})
