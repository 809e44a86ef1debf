"""The deployment files are valid: Kubernetes schemas, the compose spec, systemd, gunicorn."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
VENV = Path(sys.executable).parent.parent


def manifests() -> list[tuple[str, dict[str, object]]]:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    documents = []
    for name in kustomization["resources"]:
        for document in yaml.safe_load_all((DEPLOY / "k8s" / name).read_text()):
            documents.append((name, document))
    return documents


@pytest.mark.parametrize(
    ("name", "document"), manifests(), ids=lambda v: v if isinstance(v, str) else v["kind"]
)
def test_kubernetes_manifests_validate_strictly(name: str, document: dict[str, object]) -> None:
    kubernetes_validate.validate(document, "1.31.0", strict=True)


def test_the_validator_would_catch_a_mistake() -> None:
    (_, deployment), *_ = [(n, d) for n, d in manifests() if d["kind"] == "Deployment"]
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}  # type: ignore[dict-item]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.31.0", strict=True)


def test_kubernetes_has_what_the_receiver_needs() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for _, d in manifests()}  # type: ignore[index]
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget", "Service", "Deployment"):
        assert (kind, "wabahook-receiver") in kinds
    assert ("Job", "wabahook-migrate") in kinds
    assert ("Deployment", "wabahook-cron") in kinds
    assert ("Deployment", "wabahook-relay") in kinds
    assert ("Ingress", "wabahook") in kinds


def test_compose_file_follows_the_compose_spec() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(DEPLOY / "compose.yaml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    expected = {"postgres", "redis", "migrate", "receiver", "worker", "cron", "relay", "nginx"}
    assert expected <= set(services)


@pytest.mark.parametrize("unit", sorted(p.name for p in (DEPLOY / "systemd").glob("*.service")))
def test_systemd_units_verify(unit: str, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is part of this machine's image"
    text = (DEPLOY / "systemd" / unit).read_text().replace("/opt/wabahook/venv", str(VENV))
    target = tmp_path / unit.replace("@.service", "@1.service")
    target.write_text(text)
    result = subprocess.run(
        [analyze, "verify", str(target)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert target.name not in result.stderr, result.stderr  # no ignored or unknown settings
    for hardening in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes"):
        assert hardening in text


def test_gunicorn_settings_stay_under_360dialogs_patience() -> None:
    from receiver import gunicorn_conf

    assert gunicorn_conf.worker_class == "sync"
    assert gunicorn_conf.timeout <= 5
    assert gunicorn_conf.limit_request_line > 0
    assert gunicorn_conf.max_requests_jitter > 0


def test_every_shipped_receiver_runs_behind_its_proxy() -> None:
    serve = ["wabahook", "serve", "--behind-proxy"]
    systemd = (DEPLOY / "systemd" / "wabahook-receiver.service").read_text()
    assert "ExecStart=/opt/wabahook/venv/bin/wabahook serve --behind-proxy\n" in systemd
    assert 'CMD ["wabahook", "serve", "--behind-proxy"]' in (DEPLOY / "Dockerfile").read_text()
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert compose["receiver"]["command"] == serve
    (receiver,) = [d for _, d in manifests() if d["metadata"]["name"] == "wabahook-receiver"  # type: ignore[index]
                   and d["kind"] == "Deployment"]  # fmt: skip
    (container,) = receiver["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    assert container["command"] == serve


def test_the_image_installs_locked_dependencies_with_hashes() -> None:
    """deploy/requirements.lock pins every dependency of pyproject.toml, each with a hash."""
    import re
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "--no-deps ." in dockerfile
    text = (DEPLOY / "requirements.lock").read_text()
    pinned = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", text, re.MULTILINE)
    hashed = re.findall(
        r"^([A-Za-z0-9_.-]+)==[^\n]*\\\n\s+--hash=sha256:[0-9a-f]{64}", text, re.MULTILINE
    )
    assert len(pinned) > 10
    assert [name for name, _ in pinned] == hashed  # every pin has its hashes
    locked = {canonicalize_name(name): version for name, version in pinned}
    project = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]
    for dependency in project["dependencies"]:
        requirement = Requirement(dependency)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in deploy/requirements.lock"
        assert requirement.specifier.contains(locked[name]), (name, locked[name])
