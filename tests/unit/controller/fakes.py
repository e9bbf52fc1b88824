"""Fakes for unit tests of the controller: a Kubernetes API, a clock, and informers.

- :class:`FakeKube` has the async interface of :class:`airkube.kube.apply.Kube` (every
  method the controller calls) and answers as it does, from objects kept in memory:
  a second create of the same name is AlreadyExists (``False``, or a ``PodResult`` with
  ``created=False``), deleting a missing object is a quiet no-op (the API server's
  NotFound, which ``Kube`` counts as done), a status patch of a missing object is
  ``False``. Every call is recorded (:attr:`FakeKube.calls`); the next calls of a method
  can be made to raise (:meth:`FakeKube.fail`), and a pod can be refused as the API
  server refuses a bad manifest (:meth:`FakeKube.refuse_pod`). Deleting a DAGRun deletes
  its pods, as the garbage collector does through their ownerReferences.
  Informers (or any ``(event_type, body)`` callable) can :meth:`FakeKube.watch` a kind,
  so that what the controller writes comes back to it as a watch event would.
- :class:`FakeClock` is the controller's injected ``clock``: settable and advanceable.
- :func:`informer_of`, :func:`dag_body`, :func:`run_body` build the controller's inputs;
  :class:`Wakeups` records the ``wake_after``/``wake_status`` callbacks.

Typical use::

    clock = FakeClock(datetime(2026, 11, 24, 0, 30, tzinfo=UTC))
    kube = FakeKube(clock)
    dags, runs = informer_of(dag_body("etl", {...})), runs_informer()
    kube.watch("dagruns", runs.update)
    scheduler = Scheduler(kube=kube.as_kube(), dags=dags, runs=runs, ..., clock=clock)
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from kubernetes.client.exceptions import ApiException

from airkube.api import API_VERSION
from airkube.controller.informer import Informer, Key, dag_of_run
from airkube.core.patch import apply_merge_patch
from airkube.core.pods import LABEL_TASK
from airkube.kube.apply import Kube, PodResult

START = datetime(2026, 11, 24, tzinfo=UTC)

Ref = tuple[str, str, str]
"""(plural, namespace, name) of an object"""

Watcher = Callable[[str, Mapping[str, Any]], object]
"""Called with (event type, body) as a watch reports a change: ``Informer.update`` fits."""


class FakeClock:
    """A clock to inject as ``clock=``: it says what it was told, and moves only when told
    (forward with :meth:`advance`, anywhere with :meth:`set`)."""

    def __init__(self, now: datetime = START) -> None:
        self.now = _aware(now)

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> datetime:
        self.now = _aware(now)
        return self.now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move on by ``delta`` or by ``timedelta(**kwargs)`` (``advance(minutes=5)``)."""
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError("advance() moves forward; use set() to go back")
        self.now += step
        return self.now


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("the clock tells aware times (tzinfo=UTC)")
    return when


@dataclass
class Call:
    """One call of a :class:`FakeKube` method: its arguments and what it answered (or
    raised)."""

    method: str
    args: dict[str, Any]
    result: Any = None
    error: BaseException | None = None


def api_error(status: int = 500, reason: str = "Internal Server Error") -> ApiException:
    """An error answer of the API server, as the Kubernetes client raises it."""
    return ApiException(status=status, reason=reason)


class FakeKube:
    """In-memory Kubernetes behind the interface of :class:`airkube.kube.apply.Kube`
    (see the module docstring). Objects are kept by (plural, namespace, name); pods under
    the plural ``"pods"``."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or FakeClock()
        self.objects: dict[Ref, dict[str, Any]] = {}
        self.calls: list[Call] = []
        self.events: list[dict[str, Any]] = []
        self.refused: dict[str, str] = {}
        self.closed = False
        self._failures: dict[str, list[BaseException]] = {}
        self._watchers: dict[str, list[Watcher]] = {}
        self._uids = itertools.count(1)
        self._versions = itertools.count(1)

    def as_kube(self) -> Kube:
        """This fake, typed as what the controller's constructors take."""
        return cast(Kube, self)

    # Setting the scene -------------------------------------------------------------------

    def watch(self, plural: str, watcher: Watcher) -> None:
        """Report every change of ``plural`` objects to ``watcher`` from now on, and the
        objects that exist already (as ADDED), as a watch with its initial list does."""
        self._watchers.setdefault(plural, []).append(watcher)
        for (kind, _, _), body in sorted(self.objects.items(), key=lambda item: item[0]):
            if kind == plural:
                watcher("ADDED", copy.deepcopy(body))

    def add(self, plural: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Make an object exist (as someone else created it); not recorded as a call."""
        meta = body["metadata"]
        ref = (plural, meta["namespace"], meta["name"])
        if ref in self.objects:
            raise ValueError(f"{ref} exists already")
        return self._store(ref, body, "ADDED")

    def change(self, plural: str, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        """Merge-patch an object as the world does (a kubelet moving a pod's phase, a
        person editing a spec); a spec change bumps the generation. Not recorded."""
        ref = (plural, namespace, name)
        body = apply_merge_patch(self.objects[ref], patch)
        if "spec" in patch and plural != "pods":
            body["metadata"]["generation"] = body["metadata"].get("generation", 1) + 1
        self._store(ref, body, "MODIFIED")

    def remove(self, plural: str, namespace: str, name: str) -> None:
        """Delete an object as the world does (a person, an eviction); not recorded."""
        self._delete((plural, namespace, name))

    def fail(self, method: str, error: BaseException | None = None, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` raise ``error`` (default: an API
        server error 500). ``post_event`` never raises, as ``Kube``'s does not: its failure
        is an event not posted."""
        self._failures.setdefault(method, []).extend([error or api_error()] * times)

    def refuse_pod(self, name: str, message: str) -> None:
        """Refuse the creation of pod ``name`` as the API server refuses an invalid
        manifest (``Kube`` answers ``PodResult(error=message)``)."""
        self.refused[name] = message

    # What happened -----------------------------------------------------------------------

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        body = self.objects.get((plural, namespace, name))
        return copy.deepcopy(body) if body is not None else None

    def names(self, plural: str, namespace: str | None = None) -> list[str]:
        """The names of the ``plural`` objects (of one namespace), sorted."""
        return sorted(
            name for kind, ns, name in self.objects if kind == plural and namespace in (None, ns)
        )

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # The interface of airkube.kube.apply.Kube ---------------------------------------------

    async def create_pods(
        self, namespace: str, manifests: Iterable[Mapping[str, Any]]
    ) -> list[PodResult]:
        manifests = list(manifests)
        call = self._call("create_pods", namespace=namespace, manifests=manifests)
        results = []
        for manifest in manifests:
            name = manifest["metadata"]["name"]
            ref = ("pods", namespace, name)
            if name in self.refused:
                results.append(PodResult(name, created=False, error=self.refused[name]))
            elif ref in self.objects:
                results.append(PodResult(name, created=False))
            else:
                body = copy.deepcopy(dict(manifest))
                body.setdefault("status", {"phase": "Pending"})
                self._store(ref, {**body, "metadata": {**body["metadata"], "namespace": namespace}})
                results.append(PodResult(name, created=True))
        call.result = results
        return results

    async def dry_run_pod(self, namespace: str, manifest: Mapping[str, Any]) -> str | None:
        """Nothing stored; the refusal :meth:`refuse_pod` set for the pod's name (or its
        generateName, or its task's label), else None (accepted)."""
        meta = manifest.get("metadata") or {}
        names = (
            meta.get("name"),
            meta.get("generateName"),
            (meta.get("labels") or {}).get(LABEL_TASK),
        )
        call = self._call("dry_run_pod", namespace=namespace, manifest=dict(manifest))
        call.result = next((self.refused[n] for n in names if n in self.refused), None)
        return call.result

    async def delete_pods(self, namespace: str, names: Iterable[str]) -> None:
        names = list(names)
        self._call("delete_pods", namespace=namespace, names=names)
        for name in names:
            self._delete(("pods", namespace, name))

    async def patch_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> bool:
        call = self._call(
            "patch_status", plural=plural, namespace=namespace, name=name, status=status
        )
        ref = (plural, namespace, name)
        current = self.objects.get(ref)
        if current is None:
            call.result = False
            return False
        body = {**current, "status": apply_merge_patch(current.get("status") or {}, status)}
        self._store(ref, body, "MODIFIED")
        call.result = True
        return True

    async def create_resource(self, plural: str, namespace: str, body: Mapping[str, Any]) -> bool:
        call = self._call("create_resource", plural=plural, namespace=namespace, body=body)
        ref = (plural, namespace, body["metadata"]["name"])
        if ref in self.objects:
            call.result = False
            return False
        new = copy.deepcopy(dict(body))
        new["metadata"] = {**new["metadata"], "namespace": namespace, "generation": 1}
        self._store(ref, new, "ADDED")
        call.result = True
        return True

    async def delete_resource(self, plural: str, namespace: str, name: str) -> None:
        self._call("delete_resource", plural=plural, namespace=namespace, name=name)
        self._delete((plural, namespace, name))

    async def post_event(
        self,
        involved: Mapping[str, Any],
        *,
        type_: str,
        reason: str,
        note: str,
        now: datetime,
        action: str = "Reconcile",
        key: str | None = None,
    ) -> None:
        meta = involved["metadata"]
        if key is not None and any(
            e["key"] == key and e["regarding"]["name"] == meta["name"] for e in self.events
        ):
            return  # the API server answers AlreadyExists: the name follows from the key
        event = {
            "regarding": {
                "kind": involved.get("kind"),
                "namespace": meta.get("namespace"),
                "name": meta["name"],
            },
            "type": type_,
            "reason": reason,
            "note": note[:1024],
            "eventTime": now,
            "action": action,
            "key": key,
        }
        try:
            self._call("post_event", **event)
        except ApiException:
            return  # Kube logs it: an event is best effort, never a failed pass
        self.events.append(event)

    def close(self) -> None:
        self.closed = True

    # Inside -------------------------------------------------------------------------------

    def _call(self, method: str, **args: Any) -> Call:
        call = Call(method, copy.deepcopy(args))
        self.calls.append(call)
        pending = self._failures.get(method)
        if pending:
            call.error = pending.pop(0)
            raise call.error
        return call

    def _store(self, ref: Ref, body: Mapping[str, Any], event: str = "ADDED") -> dict[str, Any]:
        stored = copy.deepcopy(dict(body))
        meta = stored.setdefault("metadata", {})
        meta.setdefault("namespace", ref[1])
        meta.setdefault("uid", f"uid-{next(self._uids)}")
        meta.setdefault("creationTimestamp", _timestamp(self.clock()))
        if ref[0] != "pods":
            meta.setdefault("generation", 1)
            stored.setdefault("apiVersion", API_VERSION)
        meta["resourceVersion"] = str(next(self._versions))
        self.objects[ref] = stored
        self._notify(ref[0], event, stored)
        return copy.deepcopy(stored)

    def _delete(self, ref: Ref) -> None:
        body = self.objects.pop(ref, None)
        if body is None:
            return  # NotFound: Kube counts a delete of what is gone as done
        self._notify(ref[0], "DELETED", body)
        uid = body["metadata"].get("uid")
        for owned in [r for r, b in self.objects.items() if _owned_by(b, uid)]:
            self._delete(owned)

    def _notify(self, plural: str, event: str, body: Mapping[str, Any]) -> None:
        for watcher in self._watchers.get(plural, ()):
            watcher(event, copy.deepcopy(dict(body)))


def _owned_by(body: Mapping[str, Any], uid: str | None) -> bool:
    owners = body["metadata"].get("ownerReferences") or ()
    return uid is not None and any(o.get("uid") == uid for o in owners)


def _timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Inputs -------------------------------------------------------------------------------------


def informer_of(
    *bodies: Mapping[str, Any],
    group_of: Callable[[Mapping[str, Any]], Key | None] | None = None,
) -> Informer:
    """An informer that has seen ``bodies`` (as ADDED events)."""
    informer = Informer(group_of=group_of)
    for body in bodies:
        informer.update("ADDED", copy.deepcopy(dict(body)))
    return informer


def runs_informer(*bodies: Mapping[str, Any]) -> Informer:
    """An informer of DAGRuns, grouped by DAG as the operator's is."""
    return informer_of(*bodies, group_of=dag_of_run)


def dag_body(
    name: str,
    spec: Mapping[str, Any],
    *,
    namespace: str = "default",
    status: Mapping[str, Any] | None = None,
    generation: int = 1,
    created: datetime = START,
) -> dict[str, Any]:
    """A DAG resource as the API server returns it."""
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DAG",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-dag-{namespace}-{name}",
            "generation": generation,
            "creationTimestamp": _timestamp(created),
        },
        "spec": copy.deepcopy(dict(spec)),
    }
    if status is not None:
        body["status"] = copy.deepcopy(dict(status))
    return body


def run_body(
    name: str,
    dag: str,
    *,
    namespace: str = "default",
    spec: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    created: datetime = START,
) -> dict[str, Any]:
    """A DAGRun resource as the API server returns it (``spec`` adds to its dagRef)."""
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DAGRun",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-run-{namespace}-{name}",
            "generation": 1,
            "creationTimestamp": _timestamp(created),
        },
        "spec": {"dagRef": {"name": dag}, **copy.deepcopy(dict(spec or {}))},
    }
    if status is not None:
        body["status"] = copy.deepcopy(dict(status))
    return body


@dataclass
class Wakeups:
    """Records the controller's wake-up callbacks: pass :meth:`after` as ``wake_after``
    and :meth:`now` as ``wake_status`` (or a reconciler's ``wake_after``)."""

    delays: dict[Key, float] = field(default_factory=dict)
    """The latest delay asked for each key (seconds)."""
    woken: list[Key] = field(default_factory=list)
    """The keys woken at once, in order."""

    def after(self, key: Key, delay: float) -> None:
        self.delays[key] = delay

    def now(self, key: Key) -> None:
        self.woken.append(key)
