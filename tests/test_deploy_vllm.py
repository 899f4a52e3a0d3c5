"""The vLLM overlay (deploy/docker-compose.vllm.yml) and its image target, checked without a
Docker engine (``docker-compose config`` and the Dockerfile's text)."""

from __future__ import annotations

from tests.test_deploy import BASE, DEPLOY, compose, config, stages

VLLM = DEPLOY / "docker-compose.vllm.yml"


def test_vllm_overlay_serves_the_export_offline_and_points_the_stt_worker_at_it() -> None:
    services = config(BASE, VLLM)["services"]
    assert services["stt-worker"]["profiles"] == ["gpu"]  # the transformers worker stays off
    v = services["vllm"]
    assert v["image"] == "ethos-vllm:latest" and v["build"]["target"] == "vllm"
    cmd = v["command"]
    assert cmd[:3] == ["vllm", "serve", "/models/evoxtral-vllm"]
    for flag in ("--tokenizer-mode=mistral", "--config-format=mistral", "--load-format=mistral",
                 "--served-model-name=evoxtral"):
        assert flag in cmd, flag
    assert v["environment"]["HF_HUB_OFFLINE"] == "1"
    assert any(str(m).startswith("vllm-models:/models") for m in v["volumes"])
    assert "/health" in " ".join(v["healthcheck"]["test"])
    assert v["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    w = services["stt-worker-vllm"]
    env = w["environment"]
    assert env["ETHOS_STT__ENGINE"] == "vllm" and env["ETHOS_STT__VLLM__URL"] == "http://vllm:8000"
    assert env["ETHOS_STT__VLLM__MODEL"] == "evoxtral"
    assert w["depends_on"]["vllm"]["condition"] == "service_healthy"
    assert w["image"] == "ethos-stt-cpu:latest" and "deploy" not in w  # no torch, no GPU of its own
    assert "vllm-models" in config(BASE, VLLM)["volumes"]
    tuned = config(BASE, VLLM, ETHOS_VLLM_MAX_NUM_SEQS="64", ETHOS_VLLM_IMAGE="r/vllm:1")["services"]["vllm"]
    assert "--max-num-seqs=64" in tuned["command"] and tuned["image"] == "r/vllm:1"


def test_vllm_overlay_still_requires_the_secrets() -> None:
    out = compose(BASE, VLLM, args=("-q",))  # none of the required secrets set
    assert out.returncode != 0
    assert any(name in out.stderr for name in ("MINIO_ROOT_PASSWORD", "REDIS_PASSWORD", "FLOWER_BASIC_AUTH"))


def test_vllm_image_pins_vllm_runs_as_non_root_and_comes_last() -> None:
    st = stages()
    assert list(st)[-2:] == ["venv-vllm", "vllm"]  # the legacy builder never builds it for another target
    venv = " ".join(st["venv-vllm"]["lines"])  # type: ignore[arg-type]
    assert "ARG VLLM_VERSION=0.33.0" in venv and "vllm==${VLLM_VERSION}" in venv
    lines: list[str] = st["vllm"]["lines"]  # type: ignore[assignment]
    assert [ln.split()[1] for ln in lines if ln.startswith("USER ")][-1] == "ethos"
    assert any(ln.startswith("HEALTHCHECK ") and "/health" in ln for ln in lines)
    assert any("HF_HUB_OFFLINE=1" in ln for ln in lines if ln.startswith("ENV "))
