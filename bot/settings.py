"""Settings of the bot (env prefix `GUICHET_`, `.env` file). Read-only once the bot starts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CsvList = Annotated[list[str], NoDecode]


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class BotSettings(BaseSettings):
    """Everything `guichet run` needs to connect and behave. See deploy/ for an example .env."""

    model_config = SettingsConfigDict(
        env_prefix="GUICHET_", env_file=".env", extra="ignore", frozen=True
    )

    homeserver_url: str = Field(
        default="http://127.0.0.1:8008", description="Base URL of the Matrix homeserver"
    )
    user_id: str = Field(default="", description="The bot's Matrix ID, e.g. @guichet:tchap.gouv.fr")
    password: SecretStr | None = Field(
        default=None, description="Password for the first login (then the saved token is used)"
    )
    access_token: SecretStr | None = Field(
        default=None, description="Access token to use instead of a password"
    )
    device_name: str = Field(default="Guichet", description="Display name of the bot's device")
    display_name: str = Field(
        default="Guichet", description="Name agents use to mention the bot in team rooms"
    )
    data_dir: Path = Field(
        default=Path(".guichet/bot"),
        description="Encryption store, credentials and SQLite state (losing it loses the keys)",
    )
    trust: Literal["ignore_unverified", "trust_all"] = Field(
        default="ignore_unverified",
        description="Unverified devices: still receive keys but are not marked verified "
        "(Tchap users cannot verify a bot), or mark every device verified",
    )
    allowed_domains: CsvList = Field(
        default_factory=list,
        description="Tchap e-mail domains allowed to use the bot (comma separated), "
        "e.g. interieur.gouv.fr,developpement-durable.gouv.fr",
    )
    allowed_homeservers: CsvList = Field(
        default_factory=list,
        description="Homeservers whose every user is allowed, e.g. agent.interieur.tchap.gouv.fr",
    )
    identity_servers: CsvList = Field(
        default_factory=lambda: ["tchap.gouv.fr"],
        description="Homeservers (and their subdomains) whose user IDs carry the e-mail domain; "
        "allowed_domains only apply there",
    )
    allowed_users: CsvList = Field(
        default_factory=list, description="Explicitly allowed Matrix user IDs"
    )
    admin_users: CsvList = Field(
        default_factory=list, description="User IDs allowed to run admin commands (!stats)"
    )
    catchup_max_age_s: float = Field(
        default=3600.0,
        description="A question that arrived while the bot was down is answered if younger",
    )
    catchup_old: Literal["notice", "none"] = Field(
        default="notice", description="What to do with older ones: one notice, or nothing"
    )
    memory_turns: int = Field(default=4, ge=0, description="Past turns given to the chain")
    memory_idle_s: float = Field(
        default=3600.0, description="A conversation is forgotten after this idle time"
    )
    rate_limit_count: int = Field(
        default=10, ge=1, description="Questions allowed per user in rate_limit_window_s"
    )
    rate_limit_window_s: float = Field(default=60.0, description="Window of the per-user limit")
    max_concurrent_llm: int = Field(
        default=8, ge=1, description="Answers computed at the same time (chain/LLM calls)"
    )
    command_prefix: str = Field(default="!", description="Prefix of commands (!aide)")
    brouillon_marker: str = Field(
        default=">>",
        description="A message starting with this marker is a citizen's message to draft a reply "
        "to (same as !brouillon)",
    )
    audience: str | None = Field(
        default=None, description="Default audience: Particuliers, Professionnels, Associations"
    )
    typing_delay_s: float = Field(
        default=0.4, ge=0, description="Show 'typing' only when an answer takes longer than this"
    )
    typing_max_concurrent: int = Field(
        default=8, ge=0, description="No typing notifications while more answers are in progress"
    )
    undecryptable_notice_delay_s: float = Field(
        default=10.0,
        ge=0,
        description="A DM message whose keys are still missing after this gets a notice",
    )
    sync_timeout_ms: int = Field(default=30000, description="Long-poll timeout of /sync")
    send_retries: int = Field(default=5, ge=0, description="Retries of a failed send")
    max_body_chars: int = Field(
        default=12000, description="Answers longer than this are split into several messages"
    )
    max_question_chars: int = Field(
        default=20000, description="Longer messages are cut to this before the chain sees them"
    )
    # Operations (ops/): logs and the /healthz /readyz /metrics endpoint.
    log_level: str = Field(
        default="INFO",
        description="Log level: DEBUG, INFO, WARNING or ERROR (message bodies only at DEBUG)",
    )
    log_json: bool = Field(
        default=False, description="Write logs as JSON lines (one object a line) instead of text"
    )
    ops_host: str = Field(
        default="127.0.0.1",
        description="Address of the /healthz, /readyz and /metrics endpoint (0.0.0.0 in a "
        "container, behind the orchestrator)",
    )
    ops_port: int = Field(
        default=9464, ge=0, le=65535, description="Port of that endpoint; 0 turns it off"
    )

    _split = field_validator(
        "allowed_domains",
        "allowed_homeservers",
        "identity_servers",
        "allowed_users",
        "admin_users",
        mode="before",
    )(_split_csv)
