"""A local Synapse homeserver on 127.0.0.1, for `guichet demo` and the test suite.

    hs = LocalSynapse(Path(".guichet/synapse"))
    hs.start()                      # generates the config on first use, waits for the API
    user_id, token, device = hs.register("guichet", "secret", admin=False)
    ...
    hs.restart()                    # same data directory, same port, same users
    hs.stop()

The configuration is generated once by Synapse itself and then overridden for local use:
SQLite, one client listener on 127.0.0.1 (a free port, kept across restarts), registration by
shared secret only, no federation, every rate limit raised, cheap password hashing, no sync
response cache, encryption on by default in every new room. Needs the `matrix-synapse` package
(the `demo`/`test` extras); it is imported only when a server is started, in its own process.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from devtools.errors import DevToolError
from devtools.net import free_port

logger = logging.getLogger(__name__)

SERVER_NAME = "localhost"
CONFIG_FILE = "homeserver.yaml"
_HIGH_RATE = {"per_second": 100000, "burst_count": 1000000}


class HomeserverError(DevToolError):
    """The local Synapse could not be configured, started or used."""


@dataclass(frozen=True, slots=True)
class RegisteredUser:
    user_id: str
    access_token: str
    device_id: str
    password: str


def _rate_limits() -> dict:
    """Every `rc_*` limit of Synapse raised far beyond what a test or a demo sends."""
    return {
        "rc_message": _HIGH_RATE,
        "rc_registration": _HIGH_RATE,
        "rc_registration_token_validity": _HIGH_RATE,
        "rc_login": {
            "address": _HIGH_RATE,
            "account": _HIGH_RATE,
            "failed_attempts": _HIGH_RATE,
        },
        "rc_admin_redaction": _HIGH_RATE,
        "rc_joins": {"local": _HIGH_RATE, "remote": _HIGH_RATE},
        "rc_joins_per_room": _HIGH_RATE,
        "rc_3pid_validation": _HIGH_RATE,
        "rc_invites": {
            "per_room": _HIGH_RATE,
            "per_user": _HIGH_RATE,
            "per_issuer": _HIGH_RATE,
        },
        "rc_third_party_invite": _HIGH_RATE,
        "rc_media_create": _HIGH_RATE,
        "rc_federation": {
            "window_size": 1000,
            "sleep_limit": 100000,
            "sleep_delay": 0,
            "reject_limit": 100000,
            "concurrent": 1000,
        },
        "rc_key_requests": _HIGH_RATE,
        "rc_presence": {"per_user": _HIGH_RATE},
        "rc_delayed_event_mgmt": _HIGH_RATE,
        "rc_room_creation": _HIGH_RATE,
        "rc_reports": _HIGH_RATE,
        "rc_send_to_device": _HIGH_RATE,
    }


def _log_config(log_file: Path, level: str) -> dict:
    return {
        "version": 1,
        "formatters": {
            "precise": {
                "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(message)s"
            }
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "precise",
                "filename": str(log_file),
                "encoding": "utf8",
            }
        },
        "loggers": {"synapse.storage.SQL": {"level": "WARNING"}},
        "root": {"level": level, "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


class LocalSynapse:
    """A Synapse process owned by this object, with its config and data in `data_dir`."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_level: str = "WARNING",
        start_timeout: float = 60.0,
        encrypt_by_default: str = "all",
        extra_config: dict | None = None,
    ) -> None:
        """`encrypt_by_default`: Synapse's encryption_enabled_by_default_for_room_type ("all",
        "invite": private rooms only, "off"). `extra_config`: more homeserver.yaml keys, applied
        last (benchmarks try Synapse settings with it)."""
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self._port = port
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.encrypt_by_default = encrypt_by_default
        self.extra_config = dict(extra_config or {})
        self._process: subprocess.Popen | None = None

    # -- configuration -----------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_FILE

    @property
    def log_path(self) -> Path:
        return self.data_dir / "homeserver.log"

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = self._load_overrides().get("port") or free_port(self.host)
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def server_name(self) -> str:
        return SERVER_NAME

    def _load_overrides(self) -> dict:
        path = self.data_dir / "guichet-local.json"
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
        return {}

    def _save_overrides(self, data: dict) -> None:
        (self.data_dir / "guichet-local.json").write_text(json.dumps(data), encoding="utf-8")

    @property
    def shared_secret(self) -> str:
        secret = self._load_overrides().get("registration_shared_secret")
        if not secret:
            raise HomeserverError(f"{self.data_dir} has no configured homeserver yet: start() it")
        return secret

    def configure(self) -> None:
        """Generate the config on first use (Synapse's own generator), then apply overrides.

        Re-running keeps the signing key, the secrets, the database and the port.
        """
        import yaml  # shipped with matrix-synapse

        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.config_path.exists():
            cmd = [
                sys.executable,
                "-m",
                "synapse.app.homeserver",
                "--generate-config",
                "--server-name",
                SERVER_NAME,
                "--report-stats=no",
                "--config-path",
                str(self.config_path),
                "--data-directory",
                str(self.data_dir),
            ]
            proc = subprocess.run(
                cmd, capture_output=True, text=True, cwd=self.data_dir, check=False
            )
            if proc.returncode != 0:
                raise HomeserverError(
                    f"synapse --generate-config failed ({proc.returncode}): {proc.stderr[-2000:]}"
                )
        config = yaml.safe_load(self.config_path.read_text(encoding="utf-8")) or {}
        overrides = self._load_overrides()
        port = self.port
        secret = overrides.get("registration_shared_secret") or config.get(
            "registration_shared_secret"
        )
        if not secret:
            secret = hashlib.sha256(os.urandom(32)).hexdigest()
        log_config = self.data_dir / "log.config.yaml"
        log_config.write_text(
            yaml.safe_dump(_log_config(self.log_path, self.log_level)), encoding="utf-8"
        )
        config.update(
            {
                "server_name": SERVER_NAME,
                "pid_file": str(self.data_dir / "homeserver.pid"),
                "listeners": [
                    {
                        "port": port,
                        "bind_addresses": [self.host],
                        "type": "http",
                        "tls": False,
                        "x_forwarded": False,
                        "resources": [{"names": ["client"], "compress": False}],
                    }
                ],
                "database": {
                    "name": "sqlite3",
                    "args": {"database": str(self.data_dir / "homeserver.db")},
                },
                "log_config": str(log_config),
                "media_store_path": str(self.data_dir / "media_store"),
                "signing_key_path": str(self.data_dir / f"{SERVER_NAME}.signing.key"),
                "registration_shared_secret": secret,
                "enable_registration": False,
                "report_stats": False,
                "federation_domain_whitelist": [],
                "trusted_key_servers": [],
                "suppress_key_server_warning": True,
                "bcrypt_rounds": 4,
                "caches": {"sync_response_cache_duration": 0, "global_factor": 0.5},
                "encryption_enabled_by_default_for_room_type": self.encrypt_by_default,
                "presence": {"enabled": False},
                "url_preview_enabled": False,
                "enable_metrics": False,
                "allow_public_rooms_over_federation": False,
                **_rate_limits(),
            }
        )
        config.update(self.extra_config)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=True), encoding="utf-8")
        overrides.update({"port": port, "registration_shared_secret": secret})
        self._save_overrides(overrides)

    # -- process -----------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The Synapse process ID while it runs (benchmarks read its CPU time)."""
        return self._process.pid if self.running else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> LocalSynapse:
        """Start Synapse (configuring it first if needed) and wait until its API answers."""
        if self.running:
            return self
        self.configure()
        # Another process still bound to our port (e.g. a previous run killed hard)?
        if self._port_in_use():
            raise HomeserverError(
                f"port {self.port} of {self.data_dir} is already in use: "
                "is another Synapse running on this data directory?"
            )
        log = open(self.data_dir / "homeserver.stderr.log", "ab")  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "synapse.app.homeserver",
                    "--config-path",
                    str(self.config_path),
                ],
                cwd=self.data_dir,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()
        self._wait_ready()
        logger.info("Synapse started on %s (data in %s)", self.url, self.data_dir)
        return self

    def _port_in_use(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            return sock.connect_ex((self.host, self.port)) == 0

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                tail = ""
                with contextlib.suppress(OSError):
                    tail = (self.data_dir / "homeserver.stderr.log").read_text(errors="replace")[
                        -2000:
                    ]
                raise HomeserverError(
                    f"Synapse exited with code {self._process.returncode} while starting: {tail}"
                )
            try:
                resp = httpx.get(f"{self.url}/_matrix/client/versions", timeout=1.0)
                if resp.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise HomeserverError(f"Synapse did not answer on {self.url} within {self.start_timeout}s")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop Synapse (SIGTERM, then SIGKILL after `timeout`). Idempotent."""
        proc, self._process = self._process, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        logger.info("Synapse on %s stopped", self.url)

    def kill(self) -> None:
        """SIGKILL Synapse (for fault tests)."""
        proc, self._process = self._process, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def restart(self) -> LocalSynapse:
        """Stop and start again on the same data directory and port."""
        self.stop()
        return self.start()

    def __enter__(self) -> LocalSynapse:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- users -------------------------------------------------------------------------------

    def register(
        self, localpart: str, password: str, *, admin: bool = False, displayname: str | None = None
    ) -> RegisteredUser:
        """Register a user with the shared-secret admin API (HMAC-SHA1 over nonce and fields)."""
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        with httpx.Client(timeout=30.0) as http:
            nonce_resp = http.get(endpoint)
            if nonce_resp.status_code != 200:
                raise HomeserverError(f"cannot get a registration nonce: {nonce_resp.text}")
            nonce = nonce_resp.json()["nonce"]
            mac = hmac.new(
                self.shared_secret.encode(),
                b"\x00".join(
                    p.encode("utf8")
                    for p in (nonce, localpart, password, "admin" if admin else "notadmin")
                ),
                hashlib.sha1,
            )
            body = {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            }
            if displayname:
                body["displayname"] = displayname
            resp = http.post(endpoint, json=body)
        if resp.status_code != 200:
            raise HomeserverError(f"cannot register {localpart!r}: {resp.status_code} {resp.text}")
        data = resp.json()
        return RegisteredUser(
            user_id=data["user_id"],
            access_token=data["access_token"],
            device_id=data["device_id"],
            password=password,
        )

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{SERVER_NAME}"
