"""Where the stt task's own time goes, phase by phase, clip by clip (issue 21's 15x).

Runs the real ``stt`` task (``workers.stt.tasks.transcribe``) in this process against a
private Redis and local storage, on the committed English set decoded as the cpu worker
extracts it (ffmpeg to a 16-bit WAV), after one unscored warm-up job, and times each phase
by wrapping the functions the task calls: the job checks and progress/event writes
(Redis), the audio's local copy and read, Silero VAD, mel, encoder, decoding, word
alignment, the segments' tags, the output's info and write. ``rest`` is what no wrapper
caught. The measured span is the task's own ``timings.stt``.

    PYTHONPATH=. .venv/bin/python bench/stt_phases.py [--rounds 2] [--language en]
    PYTHONPATH=. .venv/bin/python bench/stt_phases.py --variants as-is,frame-vad+step5 --rounds 2
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TIMES: dict[str, float] = defaultdict(float)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            TIMES[name] += time.perf_counter() - t
    return wrapper


def wrap(obj: Any, attr: str, name: str) -> None:
    setattr(obj, attr, timed(name, getattr(obj, attr)))


def extract(src: Path, dest: Path) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-vn", "-ac", "1", "-ar", "16000",
                    "-c:a", "pcm_s16le", "-f", "wav", str(dest)], check=True)
    return dest


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", type=Path, default=ROOT / "evaluation" / "sets" / "ci" / "manifest.jsonl")
    p.add_argument("--language", default="en")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--variants", default="as-is",
                   help="comma-separated, run clip by clip in turn: as-is, frame-vad (Silero one "
                        "frame per call), step<S> (encoder windows in S-s steps), joined with +")
    args = p.parse_args()

    from ethos_testing.procs import RedisServer, media_dir

    tmp = Path(tempfile.mkdtemp(prefix="stt_phases-"))
    redis_srv = RedisServer(tmp / "redis").start()
    os.environ.update({"ETHOS_REDIS__URL": redis_srv.url, "ETHOS_STORAGE__BACKEND": "local",
                       "ETHOS_STORAGE__LOCAL_ROOT": str(tmp / "storage"), "ETHOS_WORK_DIR": str(tmp / "work"),
                       "ETHOS_STT__ENGINE": "fasterwhisper"})
    try:
        return run(args, tmp, media_dir())
    finally:
        redis_srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path, media: Path) -> int:
    import faster_whisper.transcribe as fwt

    from evaluation import manifest
    from evaluation.metrics import ErrorRates, word_errors
    from shared import objects
    from shared.jobs.ids import utcnow
    from shared.schemas import SttOutput
    from shared.schemas.record import JobRecord, JobStatus, MediaInfo
    from shared.storage.local import LocalStorage
    from workers import runtime
    from workers.stt import tasks, transcribe, vad
    from workers.stt.engines import get_engine, whisper_batch

    clips = manifest.load(args.manifest)
    wavs = {c.id: extract(manifest.resolve(c, args.manifest, media, tmp / "src"), tmp / f"{c.id}.wav")
            for c in clips}
    store, storage = runtime.jobs(), runtime.storage()

    # What the task calls, each timed under a phase name.
    for owner, name, phase in (
        (store, "part_progress", "redis progress"), (store, "emit", "redis events"),
        (store, "record_timing", "redis progress"), (tasks, "active_record", "redis checks"),
        (tasks, "ensure_active", "redis checks"), (runtime, "local_copy", "audio copy"),
        (tasks, "read_wav", "audio read"), (vad, "speech_probs", "vad model"), (vad, "segment", "vad segment"),
        (transcribe, "make_segment", "tags"), (vad, "info", "info"), (LocalStorage, "put_bytes", "output write"),
        (SttOutput, "model_dump_json", "output write"),
    ):
        wrap(owner, name, phase)
    engine = get_engine(runtime.settings().stt)
    engine.load()
    wrap(type(engine), "info", "info")
    models: list[Any] = [getattr(engine, "english", engine), getattr(engine, "multi", None)]
    for e in {id(x): x for x in models if x is not None}.values():
        m = e.model
        wrap(m, "feature_extractor", "mel")
        wrap(m, "encode", "encoder")
        wrap(m, "add_word_timestamps", "align")
        inner = m.model
        m.model = Proxy(inner)
    wrap(fwt, "get_compression_ratio", "decode")

    def job(path: Path) -> tuple[float, str]:
        job_id = uuid.uuid4().hex
        storage.upload_file(objects.audio_wav(job_id), path)
        store.create(JobRecord(id=job_id, status=JobStatus.running, stage="analysis", created_at=utcnow(),
                               media=MediaInfo(filename=path.name), language=args.language,
                               media_key=objects.audio_wav(job_id)))
        tasks.transcribe.run(job_id)
        out = SttOutput.model_validate_json(storage.get_bytes(objects.stt_json(job_id)))
        return store.timings(job_id)["stt"], " ".join(s.text for s in out.segments)

    split, step = vad.split_model, whisper_batch.WINDOW_STEP_S

    def apply(variant: str) -> None:
        vad.split_model, whisper_batch.WINDOW_STEP_S = split, step  # type: ignore[assignment]
        for part in variant.split("+"):
            if part == "frame-vad":
                vad.split_model = lambda threads=1: None  # type: ignore[assignment]
            elif part.startswith("step"):
                whisper_batch.WINDOW_STEP_S = float(part[4:])
            elif part != "as-is":
                raise SystemExit(f"unknown variant part {part!r}")

    order = args.variants.split(",")  # a name given twice runs twice per clip (A, B, A, B)
    variants = list(dict.fromkeys(order))
    runs = dict.fromkeys(variants, 0)
    for v in variants:
        apply(v)
        job(wavs[clips[0].id])  # warm-up
    phases: dict[str, dict[str, float]] = {v: defaultdict(float) for v in variants}
    audio = dict.fromkeys(variants, 0.0)
    spent = dict.fromkeys(variants, 0.0)
    errors: dict[str, list[ErrorRates]] = {v: [] for v in variants}
    print(f"stt_phases: {args.manifest.relative_to(ROOT) if args.manifest.is_relative_to(ROOT) else args.manifest}, language {args.language}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    for r in range(args.rounds):
        for c in clips:
            for v in order:
                apply(v)
                runs[v] += 1
                TIMES.clear()
                dur = wave_seconds(wavs[c.id])
                wall, text = job(wavs[c.id])
                row = {**TIMES, "rest": wall - sum(TIMES.values())}
                for k, x in row.items():
                    phases[v][k] += x
                audio[v] += dur
                spent[v] += wall
                if r == 0 and len(errors[v]) < clips.index(c) + 1:
                    errors[v].append(word_errors(c.reference, text))
                top = ", ".join(f"{k} {x * 1000:.0f}" for k, x in sorted(row.items(), key=lambda kv: -kv[1])[:6])
                print(f"  {v:14s} {c.id:18s} {dur:5.1f} s  {dur / wall:5.1f}x  ms: {top}")
    for v in variants:
        print(f"  {v}: {audio[v] / spent[v]:.2f}x real time ({spent[v]:.2f} s of timings.stt), "
              f"WER {sum(errors[v], ErrorRates()).rate:.2%}; {spent[variants[0]] / spent[v]:.3f}x"
              f" the speed of {variants[0]}")
        n = runs[v]
        for k, x in sorted(phases[v].items(), key=lambda kv: -kv[1]):
            print(f"    {k:16s} {x:7.3f} s  {x / spent[v]:6.1%}  ({x / n * 1000:.1f} ms a job)")
    print(f"  load average at the end {os.getloadavg()[0]:.2f}")
    return 0


class Proxy:
    """The CTranslate2 model with ``generate`` and ``detect_language`` timed."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.generate = timed("decode", inner.generate)
        self.detect_language = timed("detect", inner.detect_language)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def wave_seconds(path: Path) -> float:
    import wave

    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


if __name__ == "__main__":
    sys.exit(main())
