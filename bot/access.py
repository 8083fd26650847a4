"""Who may use the bot: an allowlist by Tchap e-mail domain, by homeserver and by user ID.

A Tchap user ID carries the agent's e-mail address: `prenom.nom@interieur.gouv.fr` becomes
`@prenom.nom-interieur.gouv.fr:agent.interieur.tchap.gouv.fr`. An allowed e-mail domain `D`
matches when the localpart ends with `-D` exactly (so `developpement-durable.gouv.fr` works and
`x-gouv.fr.evil.com` does not match `gouv.fr`), and only on a homeserver that derives IDs from
e-mail addresses (`identity_servers`, default `*.tchap.gouv.fr`): `@x-gouv.fr:evil.org` is
refused because anyone can pick that localpart on evil.org.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def split_user_id(user_id: str) -> tuple[str, str] | None:
    """('localpart', 'server') of '@localpart:server', or None when malformed."""
    if not user_id.startswith("@") or ":" not in user_id:
        return None
    localpart, _, server = user_id[1:].partition(":")
    if not localpart or not server:
        return None
    return localpart.lower(), server.lower()


def _server_matches(server: str, patterns: Iterable[str]) -> bool:
    return any(server == p or server.endswith("." + p) for p in patterns)


@dataclass(frozen=True)
class AccessPolicy:
    domains: tuple[str, ...] = ()
    homeservers: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    identity_servers: tuple[str, ...] = ("tchap.gouv.fr",)

    @classmethod
    def build(
        cls,
        *,
        domains: Iterable[str] = (),
        homeservers: Iterable[str] = (),
        users: Iterable[str] = (),
        admins: Iterable[str] = (),
        identity_servers: Iterable[str] = ("tchap.gouv.fr",),
    ) -> AccessPolicy:
        def norm(values: Iterable[str]) -> tuple[str, ...]:
            return tuple(v.strip().lower().lstrip("@") for v in values if v and v.strip())

        return cls(
            domains=tuple(d.lstrip("-.") for d in norm(domains)),
            homeservers=norm(homeservers),
            users=tuple(u.strip() for u in users if u.strip()),
            admins=tuple(u.strip() for u in admins if u.strip()),
            identity_servers=norm(identity_servers),
        )

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.admins

    def email_domain(self, user_id: str) -> str | None:
        """The allowed e-mail domain this Tchap ID carries, if any."""
        parts = split_user_id(user_id)
        if parts is None:
            return None
        localpart, server = parts
        if not _server_matches(server, self.identity_servers):
            return None
        for domain in self.domains:
            suffix = "-" + domain
            if localpart.endswith(suffix) and len(localpart) > len(suffix):
                return domain
        return None

    def is_allowed(self, user_id: str) -> bool:
        if user_id in self.users or user_id in self.admins:
            return True
        parts = split_user_id(user_id)
        if parts is None:
            return False
        _, server = parts
        if server in self.homeservers:
            return True
        return self.email_domain(user_id) is not None
