"""The compose file validates (no engine runs here) and each service is a plain command too."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.procs import ROOT

COMPOSE = ROOT / "deploy" / "docker-compose.yml"


@pytest.fixture(scope="module")
def config() -> dict:  # type: ignore[type-arg]
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed (scripts/install-system.sh installs it)")
    env = {**os.environ, "MINIO_ROOT_PASSWORD": "test-secret"}
    out = subprocess.run([exe, "-f", str(COMPOSE), "config"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)  # type: ignore[no-any-return]


def test_services_and_healthchecks(config: dict) -> None:  # type: ignore[type-arg]
    services = config["services"]
    assert {"redis", "minio", "gateway", "stt-worker", "merge", "fer-worker", "flower"} <= services.keys()
    for name in ("redis", "minio", "gateway", "stt-worker", "merge", "fer-worker"):
        assert "healthcheck" in services[name], name
    assert services["gateway"]["depends_on"]["redis"]["condition"] == "service_healthy"
    gpu = services["stt-worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    assert "--appendonly" in services["redis"]["command"]
    for name in ("stt-worker", "merge", "fer-worker"):
        assert services[name]["environment"]["ETHOS_STORAGE__BACKEND"] == "s3"


def test_password_is_required() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MINIO_ROOT_PASSWORD"}
    out = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], env=env,
                         capture_output=True, text=True)
    assert out.returncode != 0 and "MINIO_ROOT_PASSWORD" in out.stderr
