"""A fake of the in-cluster server's Kubernetes calls (airkube.web.auth.Backend)."""

from __future__ import annotations

from web_fakes import FakeCluster, dag

from airkube.web.auth import AuthError, Identity

ALICE = Identity("system:serviceaccount:data:alice", "u-1", ("system:serviceaccounts",))
BOB = Identity("bob", "u-2", ("team-b",))


class FakeBackend:
    """Tokens ``alice`` and ``bob``; alice may list dagruns in ``data`` only, bob nowhere."""

    def __init__(self) -> None:
        self.identities = {"alice": ALICE, "bob": BOB}
        self.allowed = {(ALICE.username, "list", "dagruns", "data")}
        self.who_calls: list[str] = []
        self.may_calls: list[tuple[str, str, str, str]] = []
        self.clusters: dict[str, FakeCluster] = {}

    def who_is(self, token: str) -> Identity:
        self.who_calls.append(token)
        if token not in self.identities:
            raise AuthError("the Kubernetes API did not accept this token (401)")
        return self.identities[token]

    def may(self, who: Identity, verb: str, resource: str, namespace: str) -> bool:
        self.may_calls.append((who.username, verb, resource, namespace))
        return (who.username, verb, resource, namespace) in self.allowed

    def cluster_for(self, token: str) -> FakeCluster:
        cluster = FakeCluster()
        cluster.dags["etl"] = dag("etl")
        cluster.dags["etl"]["metadata"]["annotations"] = {"token": token}
        self.clusters[token] = cluster
        return cluster
