"""The allowlist: Tchap e-mail domains, homeservers, explicit IDs, look-alikes refused."""

from __future__ import annotations

import pytest

from bot.access import AccessPolicy, split_user_id

POLICY = AccessPolicy.build(
    domains=["interieur.gouv.fr", "developpement-durable.gouv.fr", "gouv.fr"],
    homeservers=["agent.finances.tchap.gouv.fr"],
    users=["@partenaire:matrix.example.org"],
    admins=["@admin-interieur.gouv.fr:agent.interieur.tchap.gouv.fr"],
)


@pytest.mark.parametrize(
    "user_id",
    [
        "@prenom.nom-interieur.gouv.fr:agent.interieur.tchap.gouv.fr",
        "@jean-pierre.nom-developpement-durable.gouv.fr:agent.dev-durable.tchap.gouv.fr",
        "@x-gouv.fr:agent.tchap.gouv.fr",
        "@Prenom.Nom-Interieur.Gouv.Fr:agent.interieur.tchap.gouv.fr",
        "@n-importe-qui:agent.finances.tchap.gouv.fr",
        "@partenaire:matrix.example.org",
        "@admin-interieur.gouv.fr:agent.interieur.tchap.gouv.fr",
    ],
)
def test_allowed(user_id):
    assert POLICY.is_allowed(user_id)


@pytest.mark.parametrize(
    "user_id",
    [
        "@x-gouv.fr.evil.com:agent.tchap.gouv.fr",  # domain is gouv.fr.evil.com
        "@x-gouv.fr:evil.org",  # anyone can pick that localpart on evil.org
        "@x-interieur.gouv.fr:tchap.gouv.fr.evil.org",
        "@x-evilinterieur.gouv.fr:agent.tchap.gouv.fr",  # not a '-' boundary
        "@-interieur.gouv.fr:agent.tchap.gouv.fr",  # empty name
        "@x-durable.gouv.fr:agent.tchap.gouv.fr",  # only part of developpement-durable
        "@n-importe-qui:finances.tchap.gouv.fr.evil.org",
        "@partenaire:matrix.example.org.evil",
        "not an id",
        "@nocolon",
        "",
    ],
)
def test_refused(user_id):
    assert not POLICY.is_allowed(user_id)


def test_domain_with_dashes_is_matched_whole():
    policy = AccessPolicy.build(domains=["developpement-durable.gouv.fr"])
    uid = "@a.b-developpement-durable.gouv.fr:agent.dev-durable.tchap.gouv.fr"
    assert policy.email_domain(uid) == "developpement-durable.gouv.fr"
    assert not policy.is_allowed("@a.b-durable.gouv.fr:agent.dev-durable.tchap.gouv.fr")


def test_admins_and_split():
    assert POLICY.is_admin("@admin-interieur.gouv.fr:agent.interieur.tchap.gouv.fr")
    assert not POLICY.is_admin("@prenom.nom-interieur.gouv.fr:agent.interieur.tchap.gouv.fr")
    assert split_user_id("@a:b") == ("a", "b")
    assert split_user_id("@a") is None


def test_empty_policy_allows_nobody():
    assert not AccessPolicy.build().is_allowed("@x-interieur.gouv.fr:agent.tchap.gouv.fr")
