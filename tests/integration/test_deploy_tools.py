"""The deployment files checked by the tools that will run them (no Docker engine here).

- the compose file by the compose CLI (`docker compose` or `docker-compose`), when one is
  installed (skipped otherwise: tests/unit/test_deploy.py still checks its structure);
- the Synapse config by Synapse itself (synapse-init's `--generate-keys`);
- deploy/check-image-steps.sh: the Dockerfile's install steps in a clean venv (needs PyPI;
  minutes: runs in CI, where CI=true, or with GUICHET_TEST_IMAGE_STEPS=1; =0 turns it off).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _compose_cli() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_file_valid_for_the_compose_cli(tmp_path):
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no compose CLI here (docker compose / docker-compose): YAML checks only")
    # A copy with a filled-in .env, as an operator would have it.
    work = tmp_path / "deploy"
    shutil.copytree(DEPLOY, work, ignore=shutil.ignore_patterns(".env", "__pycache__"))

    def config_check(dotenv: str) -> subprocess.CompletedProcess:
        (work / ".env").write_text(dotenv, encoding="utf-8")
        return subprocess.run(
            [*cli, "-f", str(work / "compose.yaml"), "config", "-q"],
            capture_output=True,
            text=True,
            cwd=work,
            check=False,
        )

    result = config_check("POSTGRES_PASSWORD=example\n")
    assert result.returncode == 0, result.stderr
    # Without the password, compose refuses with a message naming it.
    result = config_check("")
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_synapse_config_accepted_by_synapse_itself(tmp_path):
    """synapse-init's command, run on the compose config (paths moved to a temp dir)."""
    pytest.importorskip("synapse")
    config_dir = tmp_path / "config"
    data = tmp_path / "data"
    shutil.copytree(DEPLOY / "synapse", config_dir)
    data.mkdir()
    path = config_dir / "homeserver.yaml"
    text = path.read_text().replace("/data/", f"{data}/").replace("/config/", f"{config_dir}/")
    path.write_text(text)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "synapse.app.homeserver",
            "--config-path",
            str(path),
            "--generate-keys",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PGPASSWORD": "x", "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (data / "signing.key").exists()
    assert (data / "registration_shared_secret").exists()


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("GUICHET_TEST_IMAGE_STEPS", "1" if os.environ.get("CI") == "true" else "0")
    != "1",
    reason="installs every dependency from PyPI into a clean venv (minutes): runs in CI "
    "(CI=true) or with GUICHET_TEST_IMAGE_STEPS=1",
)
def test_image_install_steps_in_a_clean_venv():
    result = subprocess.run(
        ["bash", str(DEPLOY / "check-image-steps.sh"), sys.executable],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "OK: the image's install steps work in a clean venv" in result.stdout
