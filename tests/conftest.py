"""Shared fixtures: real Redis, a real S3 server (moto), real worker and gateway processes."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from ethos_testing import media
from ethos_testing.procs import RedisServer, Stack, media_dir, private_stack

UPLOAD_LIMIT = 20 * 1024 * 1024


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    srv = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


def storage_env(backend: str, s3_endpoint: str, root: Path, bucket: str) -> dict[str, str]:
    if backend == "s3":
        return {
            "ETHOS_STORAGE__BACKEND": "s3",
            "ETHOS_STORAGE__S3_ENDPOINT": s3_endpoint,
            "ETHOS_STORAGE__S3_ACCESS_KEY": "testing",
            "ETHOS_STORAGE__S3_SECRET_KEY": "testing",
            "ETHOS_STORAGE__S3_BUCKET": bucket,
            "ETHOS_STORAGE__S3_REGION": "us-east-1",
        }
    return {"ETHOS_STORAGE__BACKEND": "local", "ETHOS_STORAGE__LOCAL_ROOT": str(root / "storage")}


WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"ethos-test-webhook-key-32-bytes!").decode()


@pytest.fixture(scope="session", params=["s3", "local"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          s3_endpoint: str) -> Iterator[Stack]:
    """Gateway, a cpu worker, an stt worker and two fer workers (separate processes), on one
    storage backend; FER chunks of 3 s so short videos fan out."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"stack-{backend}")
    redis = RedisServer(tmp / "redis").start()
    env = {
        "ETHOS_REDIS__URL": redis.url,
        "ETHOS_WORK_DIR": str(tmp / "work"),
        "ETHOS_LIMITS__MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
        "ETHOS_LIMITS__MAX_DURATION_S": "600",
        "ETHOS_STT__ENGINE": "fasterwhisper",
        # Jobs without a language stay English; detection is tested with "auto".
        "ETHOS_GATEWAY__DEFAULT_LANGUAGE": "en",
        # English on tiny.en here, the model these pipeline tests were written against; the default
        # (base, short windows) runs on whisper_stack and the private stacks.
        "ETHOS_STT__WHISPER__ENGLISH_MODEL": "tiny.en",
        # Fine segments (one per sentence of the generated speech), as the segment tests expect.
        "ETHOS_VAD__MERGE_GAP_S": "0.6",
        "ETHOS_FER__CHUNK_S": "3",
        # Speakers are tested on stacks of their own (test_diarize_stack.py).
        "ETHOS_DIARIZE__ENABLED": "false",
        # Vocal events are tested on a stack of their own (test_vocal_stack.py).
        "ETHOS_VOCAL__ENABLED": "false",
        # Callbacks may reach loopback receivers (the tests' own) and no other internal address.
        "ETHOS_WEBHOOKS__ALLOW": '["127.0.0.1/32"]',
        "ETHOS_WEBHOOKS__SECRET": WEBHOOK_SECRET,
        "ETHOS_WEBHOOKS__BACKOFF_BASE_S": "0.2",
        **storage_env(backend, s3_endpoint, tmp, f"ethos-{backend}"),
    }
    st = Stack(env=env, logs=tmp / "logs")
    st.backend = backend  # type: ignore[attr-defined]
    try:
        st.worker("cpu", 2, name="cpu")
        st.worker("webhooks", 1, name="webhooks")
        st.worker("stt", 1, name="stt")
        st.worker("fer", 1, name="fer-a")
        st.worker("fer", 1, name="fer-b")
        st.gateway()
        yield st
    finally:
        st.close()
        redis.stop()


@pytest.fixture(scope="session")
def whisper_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Gateway, a cpu and an stt worker on local disk, with the engine ``auto`` picks without a
    GPU: faster-whisper and the packaged pair with its defaults (English on the multilingual base;
    named on a GPU host, so it stays offline)."""
    import torch

    engine = "fasterwhisper" if torch.cuda.is_available() else "auto"
    with private_stack(tmp_path_factory.mktemp("whisper-stack"), ETHOS_STT__ENGINE=engine) as st:
        st.worker("cpu", 1, name="cpu")
        st.worker("stt", 1, name="stt")
        st.gateway()
        yield st


@pytest.fixture(scope="session")
def diarize_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Gateway, cpu, stt (faster-whisper) and diarize workers on local disk, diarization on."""
    with private_stack(tmp_path_factory.mktemp("diarize-stack"), ETHOS_STT__ENGINE="fasterwhisper",
                       ETHOS_DIARIZE__ENABLED="true") as st:
        st.worker("cpu", 1, name="cpu")
        st.worker("stt", 1, name="stt")
        st.worker("diarize", 1, name="diarize")
        st.gateway()
        yield st


@pytest.fixture(scope="session")
def media_root() -> Path:
    """The shared real recordings (jfk.flac, yongen.mp4)."""
    return media_dir()


@pytest.fixture(scope="session")
def jfk(media_root: Path) -> Path:
    return media_root / "jfk.flac"


@pytest.fixture(scope="session")
def yongen(media_root: Path) -> Path:
    return media_root / "yongen.mp4"


@pytest.fixture(scope="session")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for generated media, shared by the session."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def three_sentences(gen: Path) -> tuple[Path, list[tuple[float, float]]]:
    folder = gen / "three"
    folder.mkdir()
    return media.sentences_with_pauses(folder, [
        "The weather was calm and bright this morning.",
        "We walked along the river to the old bridge.",
        "Then everyone went home for a quiet dinner.",
    ])


@pytest.fixture(scope="session")
def silent_wav(gen: Path) -> Path:
    return media.silence(1.0, gen / "silent.wav")


@pytest.fixture(scope="session")
def speech_video(gen: Path, three_sentences: tuple[Path, list[tuple[float, float]]]) -> Path:
    """A 720p test-pattern video (no faces) with the three spoken sentences as its audio."""
    wav, _ = three_sentences
    out = gen / "pattern_speech.mp4"
    media.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=25",
               "-i", str(wav), "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
               "-c:a", "aac", str(out)])
    return out


@pytest.fixture(scope="session")
def long_face_video(gen: Path, yongen: Path) -> Path:
    """yongen.mp4 three times over (about 32 s): longer than three FER chunks."""
    out = gen / "yongen_x3.mp4"
    media.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "2", "-i", str(yongen), "-c", "copy", str(out)])
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip GPU tests where no CUDA device is visible (CI)."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
