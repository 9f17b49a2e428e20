"""Carrying out a ``core.plan.Plan``: independent requests in parallel over the client's one connection pool.

- Creates and updates run first, then deletes (so a replaced call workflow is never missing in between).
- At most ``jobs`` requests are in flight; the ``httpx.Client`` inside ``RelayClient`` is shared (thread-safe).
- The client itself retries what is safe to retry. A request that still failed for a transient reason (network,
  5xx, 429) is reconciled, not blindly resent: the account is listed again and the plan recomputed for those
  workflows, so a create whose answer was lost — but which the server carried out — is found by its name and
  never sent twice. Up to ``rounds`` rounds.
- An authentication failure stops everything not yet sent. Ctrl-C stops sending, waits for the requests in
  flight and returns what was done (``Outcome.interrupted``).
- Concurrent applies: the Relay API has no locks and no conditional writes (a POST without ``workflow_id``
  creates, with one it replaces; no ETag, no If-Match), so two applies that both found a name missing both
  create it. After creating, the account is listed again; a name created here that now has several workflows
  is settled the same way by every apply that sees it: the lowest ``workflow_id`` is kept (and made to match the
  manifest), the others are deleted, and ``Outcome.raced`` says so. Of two racers the later one to list always
  sees both, so the account ends with one workflow of each name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from ..core import plan as planning
from ..errors import ApiAuthError, ApiError, ApiNotFoundError, NetworkError, RelayError
from ..jsontypes import JSONObject, JSONValue
from . import client as client_module

DEFAULT_JOBS = 8
ROUNDS = 5


@dataclass
class Failure:
    name: str
    action: str  # create | update | delete
    error: RelayError


@dataclass
class Race:
    """A name this apply created that another writer created at the same time: ``kept`` stays, ``deleted`` went
    (here or by the other writer), and ``updated`` says whether ``kept`` had to be made to match the manifest."""

    name: str
    kept: str
    deleted: list[str]
    updated: bool = False

    def to_json(self) -> JSONObject:
        return {"name": self.name, "kept": self.kept, "deleted": list(self.deleted), "updated": self.updated}


@dataclass
class Outcome:
    created: list[tuple[str, str]] = field(default_factory=list)  # (name, workflow_id)
    updated: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[tuple[str, str]] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    not_attempted: list[tuple[str, str]] = field(default_factory=list)  # (name, action)
    interrupted: bool = False
    raced: list[Race] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_attempted and not self.interrupted

    def done(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)

    def to_json(self) -> JSONObject:
        def pairs(items: list[tuple[str, str]]) -> list[JSONValue]:
            return [{"name": n, "workflow_id": w} for n, w in items]

        return {
            "ok": self.ok,
            "created": pairs(self.created),
            "updated": pairs(self.updated),
            "deleted": pairs(self.deleted),
            "failed": [{"name": f.name, "action": f.action, "error": f.error.message} for f in self.failed],
            "not_attempted": [{"name": n, "action": a} for n, a in self.not_attempted],
            "interrupted": self.interrupted,
            "raced": [r.to_json() for r in self.raced],
        }


def transient(err: RelayError) -> bool:
    """A failure that another round may cure: the network, a 5xx, a 429."""
    if isinstance(err, NetworkError):
        return True
    return isinstance(err, ApiError) and err.status is not None and (err.status >= 500 or err.status in (408, 429))


@dataclass
class _Op:
    action: str
    name: str
    workflow_id: str | None
    body: JSONObject | None


def _ops(plan: planning.Plan) -> tuple[list[_Op], list[_Op]]:
    writes = [_Op("create", c.name, None, c.body) for c in plan.create]
    writes += [_Op("update", u.name, u.workflow_id, u.body) for u in plan.update]
    deletes = [_Op("delete", k.name, k.workflow_id, None) for k in plan.delete]
    return writes, deletes


def apply_plan(
    client: client_module.RelayClient,
    subscriber: str,
    plan: planning.Plan,
    desired: list[tuple[str, JSONObject]],
    *,
    jobs: int = DEFAULT_JOBS,
    rounds: int = ROUNDS,
    progress: Callable[[int, int, str], None] | None = None,
) -> Outcome:
    """Carry out ``plan`` (built from ``desired`` against the account). ``progress(done, total, label)`` is called
    after each request."""
    outcome = Outcome()
    stop = threading.Event()
    total = plan.writes
    counter = [0]
    lock = threading.Lock()

    def one(op: _Op) -> str | None:
        if stop.is_set():
            return None
        try:
            if op.action == "delete":
                assert op.workflow_id is not None
                client.delete_workflow(subscriber, op.workflow_id)
                return op.workflow_id
            assert op.body is not None  # only a delete has none
            saved = client.save_workflow(subscriber, op.body)
        except ApiAuthError:
            stop.set()  # at once: the other workers send nothing more
            raise
        return str(saved[0].get("workflow_id")) if saved and saved[0].get("workflow_id") else op.workflow_id or ""

    def record(op: _Op, wid: str) -> None:
        {"create": outcome.created, "update": outcome.updated, "delete": outcome.deleted}[op.action].append(
            (op.name, wid)
        )

    def run_batch(ops: list[_Op]) -> list[tuple[_Op, RelayError]]:
        """Run ``ops`` concurrently; return the transient failures (definite ones go to ``outcome.failed``)."""
        retry: list[tuple[_Op, RelayError]] = []
        if not ops:
            return retry
        pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, len(ops))), thread_name_prefix="relay-apply")
        futures: dict[Future[str | None], _Op] = {}
        processed: set[Future[str | None]] = set()

        def settle(future: Future[str | None]) -> None:
            op = futures[future]
            processed.add(future)
            try:
                wid = future.result()
            except RelayError as err:
                if isinstance(err, ApiAuthError):
                    stop.set()
                if transient(err) and not stop.is_set():
                    retry.append((op, err))
                else:
                    outcome.failed.append(Failure(op.name, op.action, err))
                return
            if wid is None:
                outcome.not_attempted.append((op.name, op.action))
            else:
                record(op, wid)

        try:
            futures = {pool.submit(one, op): op for op in ops}
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    settle(future)
                    with lock:
                        counter[0] += 1
                        done = counter[0]
                    if progress is not None:
                        op = futures[future]
                        progress(min(done, total), total, f"{op.action} {op.name}")
        except KeyboardInterrupt:
            # stop sending; let the requests in flight finish, and account for every one
            stop.set()
            outcome.interrupted = True
            pool.shutdown(wait=True, cancel_futures=True)
            for future, op in futures.items():
                if future in processed:
                    continue
                processed.add(future)
                if future.cancelled() or isinstance(future.exception(), KeyboardInterrupt):
                    outcome.not_attempted.append((op.name, op.action))
                else:
                    try:
                        settle(future)
                    except BaseException:  # noqa: BLE001 - a bug in one request must not hide the others
                        outcome.not_attempted.append((op.name, op.action))
            outcome.failed.extend(Failure(o.name, o.action, e) for o, e in retry)
            retry.clear()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return retry

    writes, deletes = _ops(plan)
    try:
        for round_number in range(1, rounds + 1):
            retry = run_batch(writes)
            retry += run_batch(deletes)
            if not retry or stop.is_set():
                outcome.failed.extend(Failure(op.name, op.action, err) for op, err in retry)
                break
            if round_number == rounds:
                outcome.failed.extend(Failure(op.name, op.action, err) for op, err in retry)
                break
            # reconcile: what did the failed requests leave behind?
            client_module.wait(client_module.backoff(round_number))
            try:
                existing = client.list_workflows(subscriber)
                existing.require_whole(subscriber, "the requests that failed were not sent again")
            except RelayError as err:
                outcome.failed.extend(Failure(op.name, op.action, err) for op, _ in retry)
                break
            writes, deletes = _reconcile(retry, desired, existing, outcome, plan.raw)
        if outcome.created and not stop.is_set():
            _settle_races(client, subscriber, desired, plan.raw, outcome)
    except KeyboardInterrupt:
        outcome.interrupted = True
    return outcome


def _settle_races(
    client: client_module.RelayClient,
    subscriber: str,
    desired: list[tuple[str, JSONObject]],
    raw: frozenset[str],
    outcome: Outcome,
) -> None:
    """List the account again and settle each name created here that now has several workflows (see the module's
    docstring). A failure is recorded as one (``action`` "check for duplicates"): the apply is then incomplete."""
    created = {name for name, _ in outcome.created}
    try:
        existing = client.list_workflows(subscriber)
        existing.require_whole(subscriber, "whether another writer created the same names meanwhile is unknown")
    except RelayError as err:
        outcome.failed.append(Failure(", ".join(sorted(created)), "check for duplicates", err))
        return
    bodies = dict(desired)
    for name in sorted(created):
        candidates = [w for w in existing if w.get("name") == name]
        if len(candidates) < 2:
            continue
        keep = min(candidates, key=lambda w: str(w.get("workflow_id")))
        race = Race(name, str(keep.get("workflow_id")), [])
        try:
            for other in candidates:
                if other is keep:
                    continue
                wid = str(other.get("workflow_id"))
                try:
                    client.delete_workflow(subscriber, wid)
                except ApiNotFoundError:
                    pass  # the other writer deleted it first
                race.deleted.append(wid)
            if planning.changes_of(keep, bodies[name], name in raw):
                client.save_workflow(subscriber, planning.update_body(keep, bodies[name], name in raw))
                race.updated = True
        except RelayError as err:
            outcome.failed.append(Failure(name, "settle a duplicate", err))
        outcome.raced.append(race)


def _reconcile(
    retry: list[tuple[_Op, RelayError]],
    desired: list[tuple[str, JSONObject]],
    existing: list[JSONObject],
    outcome: Outcome,
    raw: frozenset[str] = frozenset(),
) -> tuple[list[_Op], list[_Op]]:
    """The next round's requests for the transient failures, from the account as it is now."""
    failed_writes = {op.name: op for op, _ in retry if op.action != "delete"}
    failed_deletes = [op for op, _ in retry if op.action == "delete"]
    again = planning.compare([(n, b) for n, b in desired if n in failed_writes], existing, raw=raw)
    for keep in again.unchanged:  # the lost answer hid a success
        op = failed_writes[keep.name]
        (outcome.created if op.action == "create" else outcome.updated).append((keep.name, keep.workflow_id))
    writes, _ = _ops(planning.Plan(create=again.create, update=again.update))
    present = {str(w.get("workflow_id")) for w in existing}
    deletes = []
    for op in failed_deletes:
        if op.workflow_id in present:
            deletes.append(op)
        else:
            outcome.deleted.append((op.name, str(op.workflow_id)))
    return writes, deletes
