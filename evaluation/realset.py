"""The real-speech diarization set (``evaluation/sets/real``): prepared from public repositories.

    python -m evaluation.realset --mirrors /work/.mirror

Each source repository must be present as a git directory (``<mirrors>/<owner>+<name>/repo``,
or give ``--repo owner/name=PATH``); files are read at the commits listed in ``SOURCES`` with
``git show``, converted to 16 kHz mono WAV into ``evaluation/sets/real/audio/`` (eight small
clips are committed; the AMI excerpts and WSJ0 utterances are git-ignored) and the manifest
``evaluation/sets/real/manifest.jsonl`` is written with each clip's reference turns (RTTM) or
speaker count. ``jfk`` points at ``media:jfk.flac``. Nothing is downloaded: without the
repositories the set is simply absent and the tests that use it skip.

Groups (the clip's ``group`` field): ``one`` single-speaker recordings, ``two`` two-person
conversations, ``multi`` meetings with three or more people, ``unscored`` three AMI excerpts
whose reference covers too little speech. Two clips are *assembled* from
real single-speaker utterances (a LibriSpeech speaker's sentences in a row, and two speakers'
sentences alternating): real voices, turns known exactly.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 16000
HERE = Path(__file__).resolve().parent / "sets" / "real"


@dataclass(frozen=True)
class Source:
    repo: str
    commit: str
    licence: str


SOURCES = {
    "pyannote": Source("pyannote/pyannote-audio", "b749285c5cdd4636b2edc7f766f1352c8dde9369",
                       "MIT (code); the clips are AMI meeting corpus excerpts, CC BY 4.0"),
    "speechbrain": Source("speechbrain/speechbrain", "9c826ef3937bac885c8a6ca86c6889a30f256fb5",
                          "Apache-2.0 (LibriSpeech/LJSpeech utterances: CC BY 4.0 / public domain)"),
    "fasterwhisper": Source("SYSTRAN/faster-whisper", "65882eee9f5cdbeeb2d877f1131d48cf241b327d", "MIT"),
    "pyaudioanalysis": Source("tyiannak/pyAudioAnalysis", "ae00ebd446d497dbbb654c40a71810e7fdf2cc1b",
                              "Apache-2.0"),
}

AMI = ["trn00", "trn01", "trn02", "trn03", "trn04", "trn05", "trn06", "trn07", "trn08", "trn09",
       "dev00", "dev01", "tst00", "tst01"]
# Their RTTM annotates 2-6 s of about 15 s of speech (trn01, tst01), or there is 0.7 s of speech
# (trn02): group "unscored", the turns under ``partial_turns`` so no harness scores them.
PARTIAL = {"trn01", "trn02", "tst01"}
AMI_FILE = {"trn00": "tr\u00f100"}  # the repository names this one with a non-ASCII letter
AMI_RTTM = ["tests/data/debug.train.rttm", "tests/data/debug.development.rttm", "tests/data/debug.test.rttm"]
SB = "tests/samples"
SINGLE_FILES = [  # (id, source, path): one voice each
    ("lj050-0131", "speechbrain", f"{SB}/TTS/LJ050-0131.wav"),
    ("wsj-src1-2", "speechbrain", f"{SB}/separation_processed_16k/source1_2_peak_0.5.wav"),
    ("wsj-src2-2", "speechbrain", f"{SB}/separation_processed_16k/source2_2_peak_0.5.wav"),
    ("wsj-src1-3", "speechbrain", f"{SB}/separation_processed_16k/source1_3_peak_0.5.wav"),
    ("wsj-src2-3", "speechbrain", f"{SB}/separation_processed_16k/source2_3_peak_0.5.wav"),
    ("count2", "pyaudioanalysis", "pyAudioAnalysis/data/count2.wav"),
    ("hotwords", "fasterwhisper", "tests/data/hotwords.mp3"),
]


class Git:
    def __init__(self, dirs: dict[str, Path]) -> None:
        self.dirs = dirs

    def show(self, key: str, path: str) -> bytes:
        src = SOURCES[key]
        return subprocess.run(["git", "-C", str(self.dirs[key]), "show", f"{src.commit}:{path}"],
                              check=True, capture_output=True).stdout

    def audio(self, key: str, path: str) -> np.ndarray:
        """A file's audio as 16 kHz mono float32 (ffmpeg)."""
        with tempfile.NamedTemporaryFile(suffix=Path(path).suffix) as f:
            f.write(self.show(key, path))
            f.flush()
            raw = subprocess.run(["ffmpeg", "-v", "error", "-i", f.name, "-ac", "1", "-ar", str(SR),
                                  "-f", "s16le", "-"], check=True, capture_output=True).stdout
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768


def write_wav(path: Path, x: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def trim(x: np.ndarray, floor_db: float = -40.0) -> np.ndarray:
    """An utterance without its leading and trailing silence (20-ms frames below the floor)."""
    n = len(x) // 320
    db = 10 * np.log10(np.mean(x[: n * 320].reshape(n, 320) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(db > db.max() + floor_db)
    return x[loud[0] * 320 : (loud[-1] + 1) * 320] if len(loud) else x


def assemble(parts: list[tuple[str, np.ndarray]], gap_s: float = 0.6) -> tuple[np.ndarray, list[dict]]:
    """Utterances in a row with ``gap_s`` of silence between them, and their turns."""
    out: list[np.ndarray] = []
    turns, t = [], 0.0
    for spk, x in parts:
        x = trim(x)
        turns.append({"speaker": spk, "start": round(t, 3), "end": round(t + len(x) / SR, 3)})
        out += [x, np.zeros(int(gap_s * SR), dtype=np.float32)]
        t += len(x) / SR + gap_s
    return np.concatenate(out), turns


def rttm_turns(text: str) -> dict[str, list[dict]]:
    by_file: dict[str, list[dict]] = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            a, d = float(f[3]), float(f[4])
            by_file.setdefault(f[1], []).append({"speaker": f[7], "start": a, "end": round(a + d, 3)})
    return by_file


def group(n: int) -> str:
    return "one" if n == 1 else "two" if n == 2 else "multi"


def prepare(git: Git, out: Path) -> list[dict]:
    rows: list[dict] = []

    def add(cid: str, key: str, path: str, x: np.ndarray | None, speakers: int,
            turns: list[dict] | None = None, reference: str = "", audio: str | None = None) -> None:
        if x is not None:
            write_wav(out / "audio" / f"{cid}.wav", x)
        src = SOURCES[key]
        rows.append({"id": cid, "audio": audio or f"audio/{cid}.wav", "reference": reference,
                     "speakers": speakers, "group": group(speakers),
                     **({"turns": turns} if turns else {}),
                     "source": {"repo": src.repo, "commit": src.commit, "path": path, "licence": src.licence}})

    add("jfk", "fasterwhisper", "tests/data/jfk.flac", None, 1, audio="media:jfk.flac",
        reference="And so, my fellow Americans, ask not what your country can do for you; "
                  "ask what you can do for your country.")
    for cid, key, path in SINGLE_FILES:
        add(cid, key, path, git.audio(key, path), 1)
    spk1 = [git.audio("speechbrain", f"{SB}/ASR/spk1_snt{i}.wav") for i in range(1, 7)]
    spk2 = [git.audio("speechbrain", f"{SB}/ASR/spk2_snt{i}.wav") for i in range(1, 7)]
    x, _ = assemble([("A", u) for u in spk1])
    add("libri-spk1", "speechbrain", f"{SB}/ASR/spk1_snt1..6.wav (in a row)", x, 1)
    x, _ = assemble([("B", u) for u in spk2])
    add("libri-spk2", "speechbrain", f"{SB}/ASR/spk2_snt1..6.wav (in a row)", x, 1)
    x, turns = assemble([p for pair in zip([("A", u) for u in spk1], [("B", u) for u in spk2], strict=True)
                         for p in pair], gap_s=0.4)
    add("libri-dialogue", "speechbrain", f"{SB}/ASR/spk1_snt*, spk2_snt* (alternating)", x, 2, turns)
    st = "tests/data/stereo_diarization.wav"
    # Kept as it is (two channels, one party a side): the diarize step reads its channels.
    (out / "audio").mkdir(parents=True, exist_ok=True)
    (out / "audio" / "stereo-two.wav").write_bytes(git.show("fasterwhisper", st))
    add("stereo-two", "fasterwhisper", st, None, 2)
    sample = rttm_turns(git.show("pyannote", "tutorials/assets/sample.rttm").decode())["sample"]
    add("pyannote-sample", "pyannote", "tutorials/assets/sample.wav",
        git.audio("pyannote", "tutorials/assets/sample.wav"), 2, sample)
    ami: dict[str, list[dict]] = {}
    for r in AMI_RTTM:
        ami.update(rttm_turns(git.show("pyannote", r).decode()))
    for name in AMI:
        turns = ami[name]
        path = f"tests/data/{AMI_FILE.get(name, name)}.wav"
        add(f"ami-{name}", "pyannote", path, git.audio("pyannote", path), len({t["speaker"] for t in turns}), turns)
        if name in PARTIAL:  # kept for listening, left out of the scores
            rows[-1].update(group="unscored", partial_turns=rows[-1].pop("turns"))
    segs = git.show("pyaudioanalysis", "pyAudioAnalysis/data/diarizationExample.segments").decode()
    turns = [{"speaker": f[2], "start": float(f[0]), "end": float(f[1])}
             for f in (line.split() for line in segs.splitlines()) if len(f) == 3]
    add("paa-diarization", "pyaudioanalysis", "pyAudioAnalysis/data/diarizationExample.wav",
        git.audio("pyaudioanalysis", "pyAudioAnalysis/data/diarizationExample.wav"), 4, turns)
    (out / "manifest.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                        encoding="utf-8")
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"),
                   help="folder of <owner>+<name>/repo git directories (default %(default)s)")
    p.add_argument("--out", type=Path, default=HERE)
    a = p.parse_args(argv)
    dirs = {k: a.mirrors / (s.repo.replace("/", "+")) / "repo" for k, s in SOURCES.items()}
    rows = prepare(Git(dirs), a.out)
    sys.stdout.write(f"{len(rows)} clips in {a.out}\n")


if __name__ == "__main__":
    main()
