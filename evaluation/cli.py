"""``ethos-eval``: measure a running Ethos on an evaluation set through its HTTP API.

    ethos-eval evaluation/sets/ci/manifest.jsonl --url http://127.0.0.1:8000 --out data/eval

Each clip is uploaded as a job (so whatever engine is deployed is measured), its result is
scored against the reference (``evaluation.metrics``), and ``report.json``, ``report.md`` and
``chart.png`` are written to ``--out``. Exit status: 0 when every clip produced a result, 1
when some failed, 2 when the set or the service cannot be used.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from evaluation import manifest
from evaluation.client import EthosClient, EthosUnreachable, JobFailed, wall_seconds
from evaluation.der import der
from evaluation.report import ClipScore, Summary, score_clip, write
from shared.tags import segment_emotion

log = logging.getLogger("ethos.eval")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ethos-eval", description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("manifest", type=Path, help="JSONL manifest (see evaluation/manifest.py)")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the Ethos gateway (default %(default)s)")
    p.add_argument("--api-key", default=None,
                   help="API key for a server that needs one (env ETHOS_API_KEY)")
    p.add_argument("--out", type=Path, default=Path("data/eval"), help="report folder (default %(default)s)")
    p.add_argument("--media", type=Path, default=None,
                   help="folder for `media:` clips (default $ETHOS_MEDIA, else ../shared/media)")
    p.add_argument("--work", type=Path, default=None, help="where tts clips are made (default a temporary folder)")
    p.add_argument("--language", default="en",
                   help="language sent with every job; `auto`: detected, and checked against each clip's "
                        "`language` (default %(default)s)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for one job (default %(default)s)")
    p.add_argument("--warmup", type=int, default=1, choices=range(0, 11), metavar="N",
                   help="send the first clip N times, unscored, before measuring, so model loading is not "
                        "timed (default %(default)s)")
    return p.parse_args(argv)


def evaluate(clips: list[manifest.Clip], audio: dict[str, Path], client: EthosClient,
             language: str) -> list[ClipScore]:
    """Run every clip through the service and score it; a failed job scores as no text."""
    scores: list[ClipScore] = []
    for clip in clips:
        expected: dict[str, Any] = {"emotion_expected": clip.emotion, "speakers_expected": clip.speakers,
                                    "language_expected": clip.language}
        try:
            result, job = client.transcribe(audio[clip.id], language)
        except JobFailed as e:
            log.error("%s: %s", clip.id, e)
            scores.append(score_clip(clip.id, clip.reference, "", error=str(e), **expected))
            continue
        tags = [t for s in result.segments for t in s.tags]
        if clip.turns:
            d = der([(t.speaker, t.start, t.end) for t in clip.turns],
                    [(s.speaker, s.start, s.end) for s in result.segments])
            expected.update(der=round(d.der, 4), der_error_s=round(d.der * d.reference_s, 3),
                            der_reference_s=d.reference_s)
        stt = result.models.get("stt")
        score = score_clip(
            clip.id, clip.reference, result.text, duration_s=result.duration,
            emotion=segment_emotion(tags)[0], speakers=len({s.speaker for s in result.segments}) or None,
            stt_s=result.timings.get("stt"), wall_s=wall_seconds(job),
            engine=stt.engine if stt else None, model_id=stt.model_id if stt else None,
            language=result.language, language_probability=result.language_probability, **expected,
        )
        log.info("%s: WER %.3f, CER %.3f, language %s, %.1f s of audio, STT %.2f s", clip.id, score.wer,
                 score.cer, score.language, score.duration_s, score.stt_s or 0.0)
        scores.append(score)
    return scores


def run(args: argparse.Namespace) -> int:
    clips = manifest.load(args.manifest)
    with tempfile.TemporaryDirectory(prefix="ethos-eval-") as tmp:
        work = args.work or Path(tmp)
        audio = {c.id: manifest.resolve(c, args.manifest, args.media, work) for c in clips}
        with EthosClient(args.url, timeout_s=args.timeout, api_key=args.api_key) as client:
            client.check()
            for _ in range(args.warmup):
                try:
                    client.transcribe(audio[clips[0].id], args.language)
                except JobFailed as e:
                    log.warning("warm-up job failed: %s", e)
            scores = evaluate(clips, audio, client, args.language)
    engines = sorted({f"{s.engine} ({s.model_id})" for s in scores if s.engine})
    summary = Summary(url=args.url, manifest=str(args.manifest), clips=scores, engines=engines).as_dict()
    paths = write(summary, args.out)
    micro = summary["tags"]["micro"]
    sys.stdout.write(
        f"{len(scores)} clips, {summary['failed']} failed, engine {', '.join(engines) or '—'}\n"
        f"WER {summary['wer']:.2%}  CER {summary['cer']:.2%}  "
        + (f"language {summary['language_accuracy']:.0%}  " if summary["language_accuracy"] is not None else "")
        + f"tag P/R/F1 (micro) {micro['precision']:.2%} / {micro['recall']:.2%} / {micro['f1']:.2%}  "
        f"RTF {summary['rtf']}  ({summary['rtfx']}x real time)\n"
        f"report: {paths['markdown']}, {paths['json']}, {paths['chart']}\n"
    )
    return 1 if summary["failed"] else 0


def main(argv: list[str] | None = None) -> int:
    """The console script."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parse_args(argv)
    try:
        return run(args)
    except (manifest.ManifestError, EthosUnreachable) as e:
        sys.stderr.write(f"ethos-eval: {e}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
