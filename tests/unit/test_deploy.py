"""The deployment files: generated env example up to date, compose/k8s/cron/Dockerfile sane.

No Docker engine runs here. Checked here: the structure of every file (YAML), and that the
Dockerfile's install steps are the ones deploy/check-image-steps.sh reproduces. The compose CLI,
Synapse's own config loader and the script itself run in tests/integration/test_deploy_tools.py.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DILA_URLS = [
    f"https://lecomarquage.service-public.fr/vdd/3.4/{part}/zip/vosdroits-latest.zip"
    for part in ("part", "pro", "asso")
]


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_env_example", DEPLOY / "gen_env_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- env.example -------------------------------------------------------------------------------


def test_env_example_is_up_to_date():
    gen = load_generator()
    checked_in = (DEPLOY / "env.example").read_text(encoding="utf-8")
    assert checked_in == gen.render(), (
        "deploy/env.example is stale: run `python deploy/gen_env_example.py` and commit it"
    )


def test_env_example_documents_every_setting_with_its_description():
    from bot.settings import BotSettings
    from chains.settings import ChainSettings
    from knowledge.settings import KnowledgeSettings

    gen = load_generator()
    text = (DEPLOY / "env.example").read_text(encoding="utf-8")
    flat = re.sub(r"\n# ", " ", text)  # descriptions are wrapped over comment lines
    for cls in (KnowledgeSettings, ChainSettings, BotSettings):
        for field, info in cls.model_fields.items():
            var = gen.env_name(cls, field)
            assert re.search(rf"^# {var}=", text, re.M), f"{var} ({cls.__name__}) missing"
            first_words = " ".join(info.description.split()[:4])
            assert first_words in flat, f"{var}: description not in env.example"
    # secrets never get a value in the example
    assert re.search(r"^# GUICHET_LLM_API_KEY=$", text, re.M)
    assert re.search(r"^# GUICHET_PASSWORD=$", text, re.M)
    assert "POSTGRES_PASSWORD=\n" in text  # compose refuses to start until it is set


def test_check_mode_fails_on_a_stale_file(tmp_path, monkeypatch):
    gen = load_generator()
    stale = tmp_path / "env.example"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(gen, "TARGET", stale)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0


# ---- compose -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_services_volumes_and_profiles(compose):
    services = compose["services"]
    assert {"postgres", "synapse", "chroma", "bot", "ingest", "ollama", "vllm"} <= set(services)
    assert set(compose["volumes"]) >= {"bot-data", "store", "chroma-data", "postgres-data"}

    synapse_config = yaml.safe_load((DEPLOY / "synapse/homeserver.yaml").read_text())
    assert synapse_config["database"]["name"] == "psycopg2"  # PostgreSQL, as in production
    assert synapse_config["database"]["args"]["host"] == "postgres"
    assert "postgres" in services["synapse"]["depends_on"]

    bot = services["bot"]
    assert bot["command"] == ["run"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in bot["volumes"]}
    assert mounts == {"bot-data": "/var/lib/guichet/bot", "store": "/var/lib/guichet/store"}
    assert bot["environment"]["GUICHET_CHROMA_URL"] == "http://chroma:8000"
    assert bot["environment"]["GUICHET_HOMESERVER_URL"] == "http://synapse:8008"
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"

    ingest = services["ingest"]
    script = "\n".join(ingest["command"])
    assert "guichet ingest --prune" in script
    for url in DILA_URLS:
        assert url in script
    assert "store:/var/lib/guichet/store" in ingest["volumes"]

    assert services["ollama"]["profiles"] == ["llm"]
    assert services["vllm"]["profiles"] == ["vllm"]
    for always_on in ("postgres", "synapse", "chroma", "bot", "ingest"):
        assert "profiles" not in services[always_on]


# ---- Dockerfile and the script that reproduces its steps -------------------------------------


SCRIPT_VARS = (('"$PYTHON"', "python"), ("$DIST", "/dist"), ("$VENV", "/opt/guichet"))


def dockerfile_steps() -> dict[str, str]:
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    steps = {}
    for i, line in enumerate(lines):
        if m := re.match(r"# STEP (\w+)$", line):
            steps[m.group(1)] = lines[i + 1].removeprefix("RUN ").strip()
    return steps


def script_steps() -> dict[str, str]:
    lines = (DEPLOY / "check-image-steps.sh").read_text().splitlines()
    steps = {}
    for i, line in enumerate(lines):
        if m := re.match(r'echo "== STEP (\w+)"$', line):
            command = next(x.strip() for x in lines[i + 1 :] if not x.startswith("#"))
            if m.group(1) == "smoke":  # the script sets PATH, cds away, then runs it
                command = next(x.strip() for x in lines[i + 1 :] if x.startswith("guichet "))
            for var, value in (
                ('"$PYTHON"', "python"),
                ("$DIST", "/dist"),
                ("$VENV", "/opt/guichet"),
            ):
                command = command.replace(var, value)
            steps[m.group(1)] = command.replace('"', "")
    return steps


def _without_cache_flag(steps: dict[str, str]) -> dict[str, str]:
    return {k: v.replace(" --no-cache-dir", "") for k, v in steps.items()}


def test_dockerfile_and_check_script_run_the_same_install_steps():
    docker, script = dockerfile_steps(), script_steps()
    assert set(docker) == {"wheel", "venv", "install", "smoke"}
    assert _without_cache_flag(docker) == script


def test_dockerfile_multistage_non_root_healthcheck_one_image():
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, re.M)
    assert stages == ["build", "runtime"]
    runtime = text.split("AS runtime", 1)[1]
    assert "COPY --from=build /opt/guichet /opt/guichet" in runtime
    assert "build-essential" not in runtime  # compilers stay in the build stage
    user = re.findall(r"^USER (\S+)$", runtime, re.M)
    assert user
    assert not user[-1].startswith(("root", "0"))
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", runtime, re.M)
    assert 'ENTRYPOINT ["guichet"]' in runtime
    assert 'CMD ["run"]' in runtime  # `docker run guichet ingest ...` for the other use
    # Every path a compose volume mounts exists in the image, owned by the non-root user
    # (a named volume takes the ownership of the image's directory; a missing one is root's).
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mkdir = re.search(r"mkdir -p ([^\\&]+)", runtime).group(1).split()
    for name in ("chroma", "bot", "ingest"):
        for volume in compose["services"][name].get("volumes", []):
            target = volume.split(":")[1]
            assert target in mkdir, f"{name} mounts {target}, not created in the image"
    assert "chown -R guichet:guichet /var/lib/guichet" in runtime
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text()
    assert ignore.splitlines()[1] == "*"  # whitelist: nothing but what the wheel needs


# ---- scheduled re-ingest -----------------------------------------------------------------------


def test_cron_line_runs_the_daily_prune_ingest():
    lines = [
        line
        for line in (DEPLOY / "cron/guichet-ingest.cron").read_text().splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert len(lines) == 1
    fields = lines[0].split()
    minute, hour, dom, month, dow, user = fields[:6]
    assert minute.isdigit()
    assert hour.isdigit()
    assert (dom, month, dow) == ("*", "*", "*")
    assert user == "guichet"
    command = " ".join(fields[6:])
    assert "flock -n" in command
    assert "guichet ingest --prune" in command
    for url in DILA_URLS:
        assert url in command


def test_k8s_cronjob():
    job = yaml.safe_load((DEPLOY / "k8s/cronjob.yaml").read_text())
    assert job["kind"] == "CronJob"
    assert job["apiVersion"] == "batch/v1"
    spec = job["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert len(spec["schedule"].split()) == 5
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["args"][:2] == ["ingest", "--prune"]
    assert container["args"][2:] == DILA_URLS
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/var/lib/guichet/store"}
