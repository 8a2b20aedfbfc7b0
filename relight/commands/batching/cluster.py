"""Ray: connect (or start a local instance), submit one task per capture, collect the records.

Each capture is one Ray task running :func:`relight.commands.batching.task.run_capture` with declared
resources — ``num_cpus``, ``num_gpus`` and ``memory`` (relight's own peak estimate,
:func:`estimate_item`) — so Ray's scheduler packs captures onto the nodes that fit them. Tasks
run with ``max_calls=1``: every capture gets a fresh worker process, so Mitsuba's JIT caches and
torch's allocator give their memory back between captures (the cost, one interpreter start with
torch and Mitsuba per capture, is measured in ``results/batch.md``). ``max_retries`` retries a task
whose worker died (SIGKILL, OOM killer, a lost node); the retry resumes from the fit's checkpoint.
Application errors are not retried: bad input fails the same way twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from relight.commands.batching.manifest import BatchItem
from relight.commands.batching.task import bookkeeping, needs_poses, new_record, run_capture
from relight.runtime.errors import RelightError
from relight.runtime.resources import CaptureSize, MemoryEstimate, estimate_fit

RAY_WORKER = 80 * 2**20
"""What a Ray worker process holds beyond a plain relight process (its core worker and gRPC):
78 MiB measured before any import, 427 vs 379 MiB after torch + Mitsuba + relight load."""


@dataclass(frozen=True)
class ClusterOptions:
    """Where and how the tasks run."""

    address: str | None = None
    """None: start a local Ray instance in this process; ``auto`` / ``ray://host:port``: join a cluster."""
    workers: int = 1
    """Captures in flight at once (local Ray gets ``workers x cpus_per_task`` CPUs)."""
    cpus_per_task: int = 1
    gpus_per_task: float = 0.0
    """GPUs a task claims (> 0: the task runs on CUDA; fractions share a GPU)."""
    retries: int = 2
    """Ray retries of a task whose worker process died."""

    @property
    def device(self) -> str:
        return "cuda" if self.gpus_per_task > 0 else "cpu"


def estimate_item(item: BatchItem, device: str) -> MemoryEstimate:
    """Peak memory of ``item``'s fit (from image headers, not the images): the ``memory`` a task
    declares. A folder of photos is estimated from its photos' count and size."""
    from relight.data.capture_io import capture_memory

    s = item.settings
    if needs_poses(item.path):
        from PIL import Image

        from relight.capture.poses import source_images

        photos = source_images(item.path)
        from relight.data.images import is_8bit

        with Image.open(photos[0]) as im:
            w, h = im.size
        cap = CaptureSize(len(photos), h // s.downscale, w // s.downscale, is_8bit(photos[0]))
    else:
        cap = capture_memory(item.path, s.downscale, s.holdout_every)
    est = estimate_fit(cap, device, item.geometry, item.material)
    return MemoryEstimate(est.parts | {"ray worker": RAY_WORKER})


def connect(opts: ClusterOptions) -> None:
    """Start a local Ray instance (no address) or join the cluster at ``opts.address``."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if opts.address is not None and _has_token():
        # `ray start` (2.60) turns token authentication on and writes ~/.ray/auth_token, but a
        # driver joining it sends the token only in token mode
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    import logging

    import ray

    kw = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    if opts.address is None:
        gpus = None if opts.gpus_per_task > 0 else 0
        ray.init(num_cpus=opts.workers * opts.cpus_per_task, num_gpus=gpus, object_store_memory=256 * 2**20, **kw)
    else:
        _check_reachable(opts.address)
        try:
            ray.init(address=opts.address, **kw)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise RelightError(f"cannot join the Ray cluster at {opts.address}: {str(e).splitlines()[0]}",
                               fix="start it with 'ray start --head' (or check the address), or drop --address "
                                   "to run on this machine") from None


def _has_token() -> bool:
    """A Ray auth token is at hand (the variable, its path, or the file ``ray start`` wrote)."""
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    return bool(os.environ.get("RAY_AUTH_TOKEN")) or os.path.isfile(path)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse at once an address where nothing listens (Ray itself retries a missing head for
    minutes). ``auto`` is resolved as Ray does: ``RAY_ADDRESS``, else Ray's own lookup."""
    import socket

    if address == "auto":
        address = os.environ.get("RAY_ADDRESS", "")
        if not address or address == "auto":
            return  # ray.init finds the local head or fails fast by itself
    hostport = address.removeprefix("ray://").rsplit("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise RelightError(f"cannot read the Ray address {address!r}", fix="write auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise RelightError(f"nothing answers at the Ray address {address} ({e.strerror or e})",
                           fix="start the head with 'ray start --head' (GCS port 6379, Ray Client 10001) or "
                               "correct --address / RAY_ADDRESS") from None


def shortfall(cpus: float, gpus: float, memory: int) -> str | None:
    """What no alive node of the cluster offers for a task asking ``cpus``, ``gpus`` and
    ``memory`` bytes (None when some node can run it)."""
    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if any(r.get("CPU", 0) >= cpus and r.get("GPU", 0) >= gpus and r.get("memory", 0) >= memory for r in nodes):
        return None
    best = {k: max((r.get(k, 0) for r in nodes), default=0) for k in ("CPU", "GPU", "memory")}
    return (f"no node has {cpus:g} CPUs, {gpus:g} GPUs and {memory / 2**30:.2f} GiB at once (the largest offer "
            f"{best['CPU']:g} CPUs, {best['GPU']:g} GPUs, {best['memory'] / 2**30:.1f} GiB)")


def run_tasks(items: list[BatchItem], estimates: dict[str, MemoryEstimate], out_dir: Path, opts: ClusterOptions,
              on_event: Callable[[str, BatchItem, dict | None], None]) -> None:
    """Run ``items`` on Ray, at most ``opts.workers`` at once, each declaring the memory of its
    entry in ``estimates`` (:func:`estimate_item`); ``on_event(kind, item, record)`` is
    called with ``submitted`` / ``finished``, ``waiting`` (no node can run it yet: record has the
    reason) and, about once a second, ``tick`` (item None). On
    Ctrl-C the running tasks are cancelled (they stop at a step boundary with a checkpoint) and
    KeyboardInterrupt propagates after their records are in."""
    import ray
    from ray.exceptions import GetTimeoutError, RayError, TaskCancelledError

    device = opts.device
    task = ray.remote(max_calls=1)(run_capture)
    queue = list(items)
    running: dict = {}  # ObjectRef -> item
    submitted: dict[str, tuple[float, int]] = {}  # name -> (when, declared memory)

    def submit(item: BatchItem) -> None:
        est = estimates[item.name]
        missing = shortfall(opts.cpus_per_task, opts.gpus_per_task, est.total)
        if missing and opts.address is None:  # no autoscaler on a local instance: it would wait forever
            on_event("finished", item, new_record(item, error=RelightError(
                f"cannot run here: {missing}; its memory estimate is {est.describe()}", path=item.path,
                fix="lower --cpus-per-task / --gpus-per-task, load the images smaller (downscale), or run on a "
                    "larger machine").one_line()))
            return
        if missing:  # a cluster: its autoscaler may add such a node; say why the capture waits
            on_event("waiting", item, {"error": missing})
        ref = task.options(num_cpus=opts.cpus_per_task, num_gpus=opts.gpus_per_task, memory=est.total,
                           max_retries=opts.retries, retry_exceptions=False,
                           name=f"relight:{item.name}").remote(item, out_dir, device, opts.cpus_per_task)
        running[ref] = item
        submitted[item.name] = (time.perf_counter(), est.total)
        on_event("submitted", item, None)

    def collect(ref) -> None:
        item = running.pop(ref)
        try:
            rec = ray.get(ref)
        except TaskCancelledError:
            rec = new_record(item, "interrupted", "cancelled (Ctrl-C); rerun to resume")
        except RayError as e:  # the worker died more often than --retries allows, or the node was lost
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            rec = new_record(item, error=f"{type(e).__name__} after {opts.retries + 1} attempts: {first} — fix: "
                                         f"see {bookkeeping(out_dir, item.name) / 'log.txt'}; rerun to resume")
        t, declared = submitted[item.name]
        rec["seconds"]["submitted_to_done"] = round(time.perf_counter() - t, 2)
        rec["declared_memory_mib"] = round(declared / 2**20)
        on_event("finished", item, rec)

    try:
        while queue or running:
            while queue and len(running) < opts.workers:
                submit(queue.pop(0))
            if not running:
                continue
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                collect(ref)
            on_event("tick", None, None)
    except KeyboardInterrupt:
        for ref in running:
            ray.cancel(ref, force=False)  # SIGINT in the worker: a checkpoint, then the task ends
        deadline = time.time() + 60
        for ref in list(running):
            item = running.pop(ref)
            try:
                rec = ray.get(ref, timeout=max(1.0, deadline - time.time()))
            except (GetTimeoutError, RayError, KeyboardInterrupt):
                rec = new_record(item, "interrupted", "interrupted (Ctrl-C); rerun to resume")
            on_event("finished", item, rec)
        raise
