"""The storage names of a job's objects: every producer and every reader names them here.

Everything a job stores lives under ``jobs/<id>/`` (:func:`object_key`); keys are
deterministic, so a redelivered task overwrites what it wrote before. The layout:

=============================  =====================================================
``input``                      the upload as received (:func:`upload`; the gateway keeps no extension)
``audio.wav``                  16 kHz mono audio extracted by prepare (:func:`audio_wav`)
``stt.json``                   the stt step's segments (:func:`stt_json`)
``diarize.json``               the diarize step's speaker turns (:func:`diarize_json`)
``diarize/windows.npz``        its embedding windows, for counting again (:func:`diarize_windows`)
``fer/<nnnnn>.json``           one FER chunk's frames (:func:`fer_chunk`)
``vocal.json``                 the vocal step's events (:func:`vocal_json`)
``preview.mp4`` / ``.m4a``     the browser-playable rendition (:func:`preview`)
``result.json``                the merged result, version 1 (:func:`result`)
``face_frames.json``           every sampled frame of a video (:func:`face_frames`)
``versions/v<nnnnn>-<r>.json`` a corrected result version (:func:`result_version`)
=============================  =====================================================
"""

from __future__ import annotations

from pathlib import PurePosixPath


def object_key(job_id: str, name: str = "") -> str:
    """The storage key of a job's object ``name`` (``""``: the prefix of all of them)."""
    return f"jobs/{job_id}/{name}" if name else f"jobs/{job_id}"


def job_prefix(job_id: str) -> str:
    """The prefix of every object of the job (deleting it deletes them all)."""
    return object_key(job_id)


def upload(job_id: str, extension: str) -> str:
    """The upload as received; ``extension`` with its dot (``".mp4"``) or empty."""
    return object_key(job_id, f"input{extension}")


def audio_wav(job_id: str) -> str:
    """The 16 kHz mono WAV that prepare extracts and the audio steps read."""
    return object_key(job_id, "audio.wav")


def stt_json(job_id: str) -> str:
    """The stt step's output (``SttOutput``)."""
    return object_key(job_id, "stt.json")


def diarize_json(job_id: str) -> str:
    """The diarize step's output (``DiarizeOutput``)."""
    return object_key(job_id, "diarize.json")


def channel_levels(job_id: str) -> str:
    """A two-channel recording's level per channel and 0.1 s (``workers.cpu.media.channel_levels``)."""
    return object_key(job_id, "diarize/channels.npy")


def diarize_windows(job_id: str) -> str:
    """The diarize step's embedding windows (``workers.diarize.store``): what a recount reads."""
    return object_key(job_id, "diarize/windows.npz")


def vocal_json(job_id: str) -> str:
    """The vocal step's output (``VocalOutput``): laughter, sighs, music… of the audio."""
    return object_key(job_id, "vocal.json")


def fer_chunk(job_id: str, index: int) -> str:
    """FER chunk ``index``'s output (``FerChunkOutput``)."""
    return object_key(job_id, f"fer/{index:05d}.json")


def preview(job_id: str, has_video: bool) -> tuple[str, str]:
    """The preview's key and content type: H.264 + AAC MP4 for video, AAC M4A for audio."""
    if has_video:
        return object_key(job_id, "preview.mp4"), "video/mp4"
    return object_key(job_id, "preview.m4a"), "audio/mp4"


def result(job_id: str) -> str:
    """The merged result (version 1, the machine output)."""
    return object_key(job_id, "result.json")


def face_frames(job_id: str) -> str:
    """Every sampled frame of a video job (``?detail=frames``)."""
    return object_key(job_id, "face_frames.json")


def result_version(job_id: str, version: int, token: str) -> str:
    """A saved correction; ``token`` keeps two racing saves of one number apart."""
    return object_key(job_id, f"versions/v{version:05d}-{token}.json")


def basename(key: str) -> str:
    """The last part of a key (a local file name for a downloaded object)."""
    return PurePosixPath(key).name
