"""Deployment files, checked without a Docker engine: the compose files and their overlays
validate with ``docker-compose config``, and the Dockerfile's targets keep their promises
(non-root, healthchecks, no compilers or torch where none belong). ``make compose-check``
runs the images for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ethos_testing.procs import ROOT

DEPLOY = ROOT / "deploy"
BASE, CPU, CHECK, WORKERS = (DEPLOY / f for f in (
    "docker-compose.yml", "docker-compose.cpu.yml", "docker-compose.check.yml", "docker-compose.workers.yml"))
ROLES = ("gateway", "cpu-worker", "fer-worker", "stt-cpu", "stt-cuda")


def compose(*files: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed (scripts/install-system.sh installs it)")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ETHOS_", "MINIO_"))}
    cmd = [exe, *[a for f in files for a in ("-f", str(f))], "config", *args]
    return subprocess.run(cmd, env={**keep, **(env or {})}, capture_output=True, text=True, cwd=ROOT)


def config(*files: Path, **env: str) -> dict:  # type: ignore[type-arg]
    out = compose(*files, env={"MINIO_ROOT_PASSWORD": "root-secret", "ETHOS_S3_SECRET_KEY": "test-secret",
                               "REDIS_PASSWORD": "redispw", "FLOWER_BASIC_AUTH": "admin:flowerpw", **env})
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)  # type: ignore[no-any-return]


def test_gpu_file_services_and_healthchecks() -> None:
    services = config(BASE)["services"]
    assert {"redis", "minio", "gateway", "stt-worker", "cpu-worker", "fer-worker", "flower"} <= services.keys()
    for name in ("redis", "minio", "gateway", "stt-worker", "cpu-worker", "fer-worker", "flower"):
        assert "healthcheck" in services[name], name
    assert "5555/healthcheck" in " ".join(services["flower"]["healthcheck"]["test"])
    for name in ("gateway", "stt-worker", "cpu-worker", "fer-worker"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy", name
        assert services[name]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully", name
        assert services[name]["environment"]["ETHOS_STORAGE__BACKEND"] == "s3"
        assert services[name]["environment"]["ETHOS_STORAGE__S3_SECRET_KEY"] == "test-secret"
    gpu = services["stt-worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    assert services["stt-worker"]["image"] == "ethos-stt-cuda:latest"
    assert any(str(v).startswith("model-cache:/models-cache") for v in services["stt-worker"]["volumes"])
    assert "--appendonly" in services["redis"]["command"]
    # Redis with a password and protected mode on, never published; Flower with a login; MinIO pinned.
    assert services["redis"]["command"][-2:] == ["--requirepass", "redispw"] and "--protected-mode" not in services["redis"]["command"]
    assert "ports" not in services["redis"]
    assert services["gateway"]["environment"]["ETHOS_REDIS__URL"] == "redis://:redispw@redis:6379/0"
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"] == "admin:flowerpw"
    assert ":RELEASE." in services["minio"]["image"]
    assert services["webhooks-worker"]["command"][4:6] == ["-Q", "webhooks"]
    # --scale fer-worker=N: no fixed name, no published port.
    assert "container_name" not in services["fer-worker"] and "ports" not in services["fer-worker"]
    # Optional secrets pass through only when set: an empty value would be refused at start.
    assert services["gateway"]["environment"]["ETHOS_WEBHOOKS__SECRET"] is None


def test_image_names_and_ports_come_from_variables() -> None:
    services = config(BASE, ETHOS_GATEWAY_IMAGE="registry.local/ethos/gateway:1.2", ETHOS_PORT="9999",
                      ETHOS_FER_IMAGE="registry.local/ethos/fer:1.2", ETHOS_REDIS_IMAGE="r:1")["services"]
    assert services["gateway"]["image"] == "registry.local/ethos/gateway:1.2"
    assert services["fer-worker"]["image"] == "registry.local/ethos/fer:1.2"
    assert services["redis"]["image"] == "r:1"
    assert any(str(p.get("published") if isinstance(p, dict) else p).startswith("9999") or "9999:8000" in str(p)
               for p in services["gateway"]["ports"])


@pytest.mark.parametrize("files", [(BASE,), (BASE, CPU), (BASE, CPU, CHECK)])
def test_password_is_required(files: tuple[Path, ...]) -> None:
    secrets = {"MINIO_ROOT_PASSWORD": "m", "ETHOS_S3_SECRET_KEY": "s", "REDIS_PASSWORD": "r",
               "FLOWER_BASIC_AUTH": "a:b"}
    for missing in secrets:  # each secret is required on its own
        out = compose(*files, env={k: v for k, v in secrets.items() if k != missing}, args=("-q",))
        assert out.returncode != 0 and missing in out.stderr, missing


def test_cpu_variant_runs_stt_on_cpu_without_a_gpu() -> None:
    services = config(BASE, CPU)["services"]
    assert services["stt-worker"]["profiles"] == ["gpu"]  # the GPU worker stays off
    cpu_stt = services["stt-worker-cpu"]
    assert "deploy" not in cpu_stt and "profiles" not in cpu_stt
    assert cpu_stt["image"] == "ethos-stt-cpu:latest"
    assert cpu_stt["environment"]["ETHOS_STT__ENGINE"] == "fasterwhisper"
    assert cpu_stt["environment"]["ETHOS_STT__DEVICE"] == "cpu"
    assert cpu_stt["depends_on"]["redis"]["condition"] == "service_healthy"
    assert cpu_stt["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in cpu_stt


def test_check_overlay_swaps_minio_for_the_s3_stand_in() -> None:
    services = config(BASE, CPU, CHECK)["services"]
    assert services["minio"]["image"] == "ethos-s3-standin:latest"
    assert services["minio"]["command"][0] == "moto_server"
    assert services["redis"]["image"] == "ethos-redis:latest"
    assert services["gateway"]["environment"]["ETHOS_STORAGE__S3_ENDPOINT"] == "minio:9000"
    # the one-shot runs on the stand-in's image (moto has no users: it makes the bucket only)
    assert services["minio-init"]["image"] == "ethos-s3-standin:latest"
    assert services["minio-init"]["entrypoint"] == ["python", "-c"]
    assert "create_bucket" in services["minio-init"]["command"][0]


def test_workers_file_joins_an_existing_redis_and_storage() -> None:
    env = {"ETHOS_REDIS_URL": "redis://10.0.0.5:6379/0", "ETHOS_S3_ENDPOINT": "10.0.0.5:9000"}
    services = config(WORKERS, **env)["services"]
    assert {"fer-worker", "stt-worker", "stt-worker-cpu"} <= services.keys()
    for name in ("fer-worker", "stt-worker", "stt-worker-cpu"):
        e = services[name]["environment"]
        assert e["ETHOS_REDIS__URL"] == "redis://10.0.0.5:6379/0" and e["ETHOS_STORAGE__S3_ENDPOINT"] == "10.0.0.5:9000"
        assert "depends_on" not in services[name] and "healthcheck" in services[name]
    assert services["stt-worker"]["profiles"] == ["gpu"] and services["stt-worker-cpu"]["profiles"] == ["cpu"]
    for missing in ("ETHOS_REDIS_URL", "ETHOS_S3_ENDPOINT"):
        rest = {k: v for k, v in env.items() if k != missing}
        out = compose(WORKERS, env={"ETHOS_S3_SECRET_KEY": "x", **rest}, args=("-q",))
        assert out.returncode != 0 and missing in out.stderr
    assert compose(WORKERS, env=env, args=("-q",)).returncode != 0  # no S3 password either


def test_env_example_names_every_required_variable() -> None:
    example = (DEPLOY / ".env.example").read_text()
    for f in (BASE, CPU, CHECK):
        for var in re.findall(r"\$\{(\w+):\?", f.read_text()):
            assert re.search(rf"^{var}=\S+", example, re.M), var
    # Every image variable the compose files read is documented there.
    for f in (BASE, CPU, CHECK, WORKERS):
        for var in re.findall(r"\$\{(ETHOS_\w+_IMAGE)", f.read_text()):
            if var != "ETHOS_S3_IMAGE":  # the check's stand-in only
                assert var in example, var


# --------------------------------------------------------------------------- the Dockerfile


def stages() -> dict[str, dict[str, object]]:
    """Each build stage: its parent and its instructions (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    out: dict[str, dict[str, object]] = {}
    current: dict[str, object] | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, re.I)
        if m:
            current = out[m.group(2)] = {"from": m.group(1), "lines": []}
        elif current is not None:
            current["lines"].append(line)  # type: ignore[attr-defined]
    return out


def lineage(name: str, all_stages: dict[str, dict[str, object]]) -> list[str]:
    chain = [name]
    while (parent := str(all_stages[chain[-1]]["from"])) in all_stages:
        chain.append(parent)
    return chain


def test_dockerfile_targets_are_non_root_with_healthchecks() -> None:
    st = stages()
    for target in (*ROLES, "redis", "s3-standin"):
        assert target in st, target
        lines: list[str] = st[target]["lines"]  # type: ignore[assignment]
        users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
        assert users and users[-1] not in ("root", "0"), target
        assert any(ln.startswith("HEALTHCHECK ") for ln in lines), target
        assert any(ln.startswith(("CMD ", "ENTRYPOINT ")) for ln in lines), target


def test_final_images_carry_no_builder_and_no_compiler() -> None:
    st = stages()
    for target in (*ROLES, "redis", "s3-standin"):
        chain = lineage(target, st)
        assert not any(s == "builder" or s.startswith("venv-") for s in chain), (target, chain)
        for s in chain:
            for ln in st[s]["lines"]:  # type: ignore[attr-defined]
                assert not re.search(r"\b(build-essential|gcc|g\+\+|clang|python3-dev|make)\b", ln), (s, ln)
    # The extra CA bundle is read by the builder only.
    for name, s in st.items():
        if any("EXTRA_CA_BUNDLE" in ln for ln in s["lines"]):  # type: ignore[attr-defined]
            assert name == "builder", name


def test_base_image_and_ca_bundle_are_build_arguments() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=", text, re.M)
    assert "ARG EXTRA_CA_BUNDLE=" in text and (DEPLOY / "no-extra-ca.pem").exists()
    build = (DEPLOY / "build.sh").read_text()
    assert "BASE_IMAGE" in build and "EXTRA_CA_BUNDLE" in build
    for script in ("build.sh", "base-image.sh"):
        assert subprocess.run(["bash", "-n", str(DEPLOY / script)]).returncode == 0, script


def test_only_the_cuda_image_gets_torch() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("reqs", DEPLOY / "requirements.py")
    assert spec and spec.loader
    reqs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reqs)
    st = stages()
    for stage in ("venv-gateway", "venv-cpu", "venv-fer", "venv-stt-cpu", "venv-stt-cuda"):
        run = " ".join(st[stage]["lines"])  # type: ignore[arg-type]
        m = re.search(r"requirements\.py ([\w\s-]+?)(?: --without ([\w-]+))? >", run)
        assert m, stage
        names = [r.split("[")[0].split(">")[0].split("=")[0].split("<")[0] for r in
                 reqs.requirements(m.group(1).split(), {m.group(2)} if m.group(2) else set())]
        has_torch = "torch" in names or "torch==" in run
        assert has_torch == (stage == "venv-stt-cuda"), (stage, names)
        if stage != "venv-stt-cuda":
            assert not {"transformers", "peft", "tensorflow"} & set(names), stage
    assert "faster-whisper" in " ".join(reqs.requirements(["stt-cpu"], {"silero-vad"}))
    assert "--no-deps silero-vad" in " ".join(st["venv-stt-cpu"]["lines"])  # type: ignore[arg-type]


def test_requirements_helper_expands_extras_and_refuses_unknown_ones() -> None:
    out = subprocess.run(["python3", str(DEPLOY / "requirements.py"), "train", "--without", "torch"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert "jiwer>=3.0" in lines and not any(ln.startswith("torch") for ln in lines)
    assert not any(ln.startswith("ethos[") for ln in lines)
    bad = subprocess.run(["python3", str(DEPLOY / "requirements.py"), "nonsense"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown extra 'nonsense'" in bad.stderr


def test_every_service_reaches_redis_with_its_password() -> None:
    """An overlay that sets its own Redis URL must carry the password (Redis requires it)."""
    vllm = DEPLOY / "docker-compose.vllm.yml"
    for files in ((BASE,), (BASE, CPU), (BASE, CPU, CHECK), (BASE, vllm)):
        for name, svc in config(*files)["services"].items():
            url = (svc.get("environment") or {}).get("ETHOS_REDIS__URL")
            if url is not None:
                assert ":redispw@redis:" in url, (files, name, url)


def test_every_ethos_service_starts_with_the_checks_task_limits() -> None:
    """Every process that reads Settings (beat and Flower too) gets an environment that
    validates under the check's tight task limits (the preview timeout travels with them)."""
    from scripts.compose_check import CELERY_ENV
    from shared.settings import Settings

    checked = 0
    for name, svc in config(BASE, CPU, CHECK, **CELERY_ENV)["services"].items():
        env = {k: str(v) for k, v in (svc.get("environment") or {}).items() if k.startswith("ETHOS_") and v is not None}
        if not env:
            continue
        with pytest.MonkeyPatch.context() as mp:
            for k in [k for k in os.environ if k.startswith("ETHOS_")]:
                mp.delenv(k)
            for k, v in env.items():
                mp.setenv(k, v)
            try:
                Settings()  # raises on a combination the container would refuse at start
            except ValueError as e:
                pytest.fail(f"{name}: {e}")
        checked += 1
    assert checked >= 6


@pytest.mark.parametrize("files", [(BASE,), (BASE, CPU), (BASE, CPU, CHECK), (BASE, DEPLOY / "docker-compose.vllm.yml"),
                                   (WORKERS,)])
def test_only_minio_and_its_init_hold_the_root_credentials(files: tuple[Path, ...]) -> None:
    """Every service but minio and the one-shot minio-init reaches storage as the bucket-scoped
    user (ETHOS_S3_ACCESS_KEY/ETHOS_S3_SECRET_KEY), never with MinIO's root user or password."""
    env = {"ETHOS_REDIS_URL": "redis://:redispw@10.0.0.5:6379/0", "ETHOS_S3_ENDPOINT": "10.0.0.5:9000"}
    services = config(*files, MINIO_ROOT_USER="rootuser", **env)["services"]
    for name, svc in services.items():
        values = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
        if name in ("minio", "minio-init"):
            assert values["MINIO_ROOT_PASSWORD"] == "root-secret", name
            continue
        assert not any(k.startswith("MINIO_ROOT") for k in values), name
        assert "root-secret" not in values.values() and "rootuser" not in values.values(), name
        if "ETHOS_STORAGE__S3_SECRET_KEY" in values:
            assert values["ETHOS_STORAGE__S3_SECRET_KEY"] == "test-secret", name
            assert values["ETHOS_STORAGE__S3_ACCESS_KEY"] == "ethos-app", name
            if WORKERS not in files:
                assert services[name]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully", name


def test_minio_init_grants_one_bucket_and_no_admin(tmp_path: Path) -> None:
    """The one-shot's script, run by sh against a stand-in ``mc`` that records its calls (MinIO
    itself cannot run here): it makes the bucket, a policy on that bucket's objects only (valid
    JSON, no admin or bucket-management action) and the services' user with that policy; run
    again (the policy already attached: mc attach fails) it still succeeds."""
    init = config(BASE, ETHOS_BUCKET="media", ETHOS_S3_ACCESS_KEY="svc")["services"]["minio-init"]
    assert init["entrypoint"] == ["/bin/sh", "-ec"] and init["restart"] == "no"
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    script = init["command"][0].replace("$$", "$")  # compose's escape, as the container gets it
    log = tmp_path / "mc.log"
    fake = tmp_path / "bin" / "mc"
    fake.parent.mkdir()
    fake.write_text(f"""#!/bin/sh
echo "$*" >> {log}
case "$*" in
  "admin policy create"*) cp "$6" {tmp_path}/policy.json ;;
  "admin policy attach"*) [ ! -e {tmp_path}/attached ] || exit 1; touch {tmp_path}/attached ;;
  "admin user info"*) echo "PolicyName: ethos-app" ;;
esac
""")
    fake.chmod(0o755)
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin", **{k: str(v) for k, v in init["environment"].items()}}
    for _ in range(2):
        out = subprocess.run(["/bin/sh", "-ec", script], env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
    calls = log.read_text().splitlines()
    assert calls[:5] == ["alias set local http://minio:9000 ethos root-secret", "mb --ignore-existing local/media",
                         "admin policy create local ethos-app /tmp/ethos-app.json",
                         "admin user add local svc test-secret", "admin policy attach local ethos-app --user svc"]
    assert calls[-1] == "admin user info local svc"  # the second run: already attached
    policy = json.loads((tmp_path / "policy.json").read_text())
    resources = {r for st in policy["Statement"] for r in st["Resource"]}
    actions = {a for st in policy["Statement"] for a in st["Action"]}
    assert resources == {"arn:aws:s3:::media", "arn:aws:s3:::media/*"}
    assert {st["Effect"] for st in policy["Statement"]} == {"Allow"}
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"} <= actions
    assert not any("*" in a or a.startswith(("admin:", "s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucket"))
                   for a in actions), actions
