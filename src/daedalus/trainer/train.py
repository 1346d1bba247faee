"""The training loop. It knows the model only through ``forward``/``decode`` and the loss parts (minGPT style).

Per step: β from the schedule (a pure function of the step), the loss ``mean(reconstruction + β · KL)`` over the
batch, an Adam step. Per epoch: held-out losses, maze statistics of prior samples, one JSON line in ``log.jsonl``
and an atomic checkpoint. A non-finite loss stops the run with its step and keeps the last good checkpoint.

Under torchrun (``daedalus.trainer.distributed``) every process holds the same model (DistributedDataParallel
averages the gradients) and trains on its own share of each global batch: ``batch_size × world_size`` samples, the
size the run started with, so a run resumed at another world size keeps its steps. With fixed data every process
draws the same permutation and takes every ``world_size``-th sample of a global batch, which is the batch a single
process would take; with ``fresh`` mazes each process draws its own mazes each epoch (seed, epoch and rank). Each
process has its own noise generator. Rank 0 alone evaluates, logs and writes the run folder, behind a barrier.
"""

from __future__ import annotations

import math
import random
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from daedalus.errors import DaedalusError, UsageError
from daedalus.limits import check_memory
from daedalus.trainer import augment
from daedalus.trainer import checkpoint as ckpt
from daedalus.trainer.data import is_maze_data, load_dataset, maze_set
from daedalus.trainer.distributed import World, join, joined, leave, local_processes, world_from_env
from daedalus.trainer.losses import kl_divergence
from daedalus.trainer.models import MazeAutoencoder, build_model, fit_to_data
from daedalus.trainer.schedules import ScheduleWarning, kl_weight, learning_rate, schedule_warning

LOG_FILE = "log.jsonl"


class TrainingDiverged(DaedalusError):
    """The loss became NaN or infinite."""


def pick_device(name: str) -> torch.device:
    """``auto`` → CUDA when torch sees one, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DaedalusError(f"device {name!r} asked for, but torch sees no CUDA device")
    return torch.device(name)


def loss_parts(model: torch.nn.Module, x: torch.Tensor, beta: float, loss: str,
               generator: torch.Generator | None = None, free_bits: float = 0.0,
               forward: torch.nn.Module | None = None) -> dict[str, torch.Tensor]:
    """Per-sample reconstruction and KL for a batch and the scalar loss ``mean(rec) + β · KL term``.

    The reconstruction is the model's ``reconstruction(logits, target, loss)`` (``loss`` names the per-position
    loss of a threshold decoder; a walk decoder has its own likelihood). The KL term is ``mean(KL)``, or with
    ``free_bits`` > 0 the sum over latent dimensions of ``max(free_bits, batch-mean KL of the dimension)``:
    dimensions under the floor get no push towards the prior, so the code does not collapse. The logged ``kl`` is
    always the plain per-sample KL. ``forward`` is what runs the forward pass when it is not ``model`` itself (the
    DistributedDataParallel wrapper).
    """
    out = (forward or model)(x, generator=generator)
    rec = model.reconstruction(out["logits"], out["target"], loss)
    if out["logvar"] is None:
        kl = torch.zeros_like(rec)
    elif free_bits > 0:
        kl_dim = kl_divergence(out["mu"], out["logvar"], per_dim=True)
        kl = kl_dim.sum(dim=1)
        floor = torch.clamp(kl_dim.mean(dim=0), min=free_bits).sum()
        return {"rec": rec, "kl": kl, "loss": rec.mean() + beta * floor, "mu": out["mu"]}
    else:
        kl = kl_divergence(out["mu"], out["logvar"])
    return {"rec": rec, "kl": kl, "loss": (rec + beta * kl).mean(), "mu": out["mu"]}


@torch.no_grad()
def evaluate(model: MazeAutoencoder, holdout: torch.Tensor, loss: str) -> dict[str, float]:
    """Mean per-sample reconstruction and KL on held-out data (eval mode: z = μ)."""
    was_training = model.training
    model.eval()
    rec, kl = [], []
    for batch in torch.split(holdout, 512):
        parts = loss_parts(model, batch, 0.0, loss)
        rec.append(parts["rec"])
        kl.append(parts["kl"])
    model.train(was_training)
    if not rec:
        return {}
    return {"holdout_rec": torch.cat(rec).mean().item(), "holdout_kl": torch.cat(kl).mean().item()}


def prior_quality(model: MazeAutoencoder, count: int, rng: np.random.Generator, threshold: float = 0.5,
                  mean: np.ndarray | None = None, scale_tril: np.ndarray | None = None) -> dict[str, float]:
    """Maze statistics of ``count`` prior samples before any repair (a threshold decoder's at ``threshold``).

    ``z ~ N(0, I)``, or ``N(mean, L Lᵀ)`` when ``mean``/``scale_tril`` are given. Returns the means of
    ``daedalus.maze.stats.batch_stats`` plus ``distinct`` (fraction of distinct grids).
    """
    from daedalus.maze.stats import batch_stats, distinct_fraction, summarize

    z = rng.standard_normal((count, model.latent_dim)).astype(np.float32)
    if scale_tril is not None:
        z = (z @ np.asarray(scale_tril, dtype=np.float32).T + np.asarray(mean, dtype=np.float32)).astype(np.float32)
    was_training = model.training
    model.eval()
    grids = model.sample_grids(z, rng, threshold)
    model.train(was_training)
    quality = summarize(batch_stats(grids))
    quality["distinct"] = distinct_fraction(grids)
    quality["samples"] = count
    return quality


def training_memory(config: dict) -> int:
    """About how many bytes a run of ``config`` takes, from shapes alone (checked before anything is allocated):
    the weights with their gradients and Adam's two moments (the model built on torch's meta device, which
    allocates nothing), the training and held-out data as float32, and a batch's activations."""
    dcfg, mcfg = config["data"], config["model"]
    positions = int(mcfg.get("height", 28)) * int(mcfg.get("width", 28))
    try:
        with torch.device("meta"):
            params = sum(p.numel() for p in build_model(mcfg).parameters())
    except (RuntimeError, NotImplementedError):  # a constructor that computes on tensors: the two grid-wide layers
        params = 2 * positions * max(mcfg.get("hidden") or [512])
    # A corpus from a path is checked by its reader (daedalus.maze.corpus.MAX_POSITIONS); digits are small.
    count = (dcfg.get("count") or 0) + (dcfg.get("holdout") or 0) if dcfg["kind"] == "mazes" else 0
    widest = max([positions, *mcfg.get("hidden", [])])
    return 16 * params + 4 * count * positions + 4 * 16 * config["train"]["batch_size"] * widest


def check_training_memory(config: dict) -> None:
    """MemoryLimitError (one line, the size and what it needs) when a run of ``config`` would not fit."""
    check_memory(training_memory(config), f"training {config['model'].get('name', 'the model')} on "
                                          f"{config['model'].get('height', 28)}x{config['model'].get('width', 28)} "
                                          f"levels")


def train(config: dict, out_dir: str | Path, resume: bool = False, progress: bool = True,
          stop_after_epochs: int | None = None, dataset=None, tune: bool = True) -> dict:
    """Train the model ``config`` describes, writing a run folder.

    Args:
        config: a resolved configuration (``daedalus.trainer.config.resolve_config``); on resume the folder's
            own ``config.json`` is used instead.
        out_dir: the run folder (created if missing). Under torchrun every process is given the same folder, on a
            file system they all see: rank 0 writes it, every rank reads it on resume.
        resume: continue from the folder's ``state.pt``; ends with the same weights as an uninterrupted run (at the
            same world size; at another one, the same data order and steps with other noise).
        progress: show a tqdm bar (rank 0 only).
        stop_after_epochs: stop after this many epochs in this call (as a kill would; for tests).
        dataset: the ``Dataset`` of the configuration's data, already read (model "auto" reads a corpus once for
            every candidate); None reads it.
        tune: end a finished run with critic tuning (``tune_rounds``; ``daedalus.trainer.tune``); model "auto"
            tunes only the candidate it keeps.

    Returns:
        The last epoch's log record.

    Raises:
        TrainingDiverged: the loss became non-finite (message names the step); the last good checkpoint is kept.
        CheckpointError: a missing or corrupt checkpoint on resume.
    """
    from tqdm import tqdm

    from daedalus.trainer import selection

    out_dir = Path(out_dir)
    if resume and selection.is_selection(out_dir) or not resume and config.get("alternatives"):
        # model "auto": several decoders to train and compare (daedalus.trainer.selection).
        return selection.train_selected(config, out_dir, train, resume, progress, stop_after_epochs)
    world = world_from_env()
    if resume:
        config = ckpt.read_config(out_dir)
        state = ckpt.load_state(out_dir)
    else:
        if (out_dir / ckpt.STATE_FILE).exists():
            raise UsageError(f"run folder {str(out_dir)!r} already holds a checkpoint: continue it with --resume "
                             f"or pick another --out")
        state = None
        config = {**config, "train": {**config["train"], "world_size": world.size}}
    tcfg, dcfg = config["train"], config["data"]
    # The global batch is fixed when the run starts; a resumed run splits it over however many processes it has.
    global_batch = tcfg["batch_size"] * int(tcfg.get("world_size", 1))
    if global_batch % world.size:
        raise UsageError(f"the run's global batch of {global_batch} (batch_size {tcfg['batch_size']} x world_size "
                         f"{tcfg.get('world_size', 1)} at its start) does not split over {world.size} processes; "
                         f"resume it with a world size that divides {global_batch}")
    if config["model"].get("output") == "links" and not is_maze_data(dcfg):
        raise UsageError(f"model {config['model'].get('name')!r} predicts maze links and trains on mazes only, "
                         f"got data {dcfg['kind']!r} (use seed-ae or seed-vae for digits)")
    device = pick_device(tcfg["device"])
    check_training_memory(config)
    data = load_dataset(dcfg) if dataset is None else dataset
    init = config["train"].get("init")
    if init is not None:
        check_init_size(config["model"], data, init)
    elif state is None:  # a resumed run's configuration was fitted to its data when it started
        config = {**config, "model": fit_to_data(config["model"], data.train, data.holdout)}
    if is_maze_data(dcfg):
        model = build_model(config["model"])
        why = selection.refusal(model, data)
        if why is not None:
            raise UsageError(f"model {config['model'].get('name')!r} cannot learn this data: {why}")
        if state is None:
            config = {**config, "train": {**config["train"], "symmetries": augment.symmetries_for(model, data, config)}}
    # A group opened by the caller (model "auto" trains its candidates in one) stays open for it: gloo does not
    # always open a second group in the same processes.
    opened = not joined()
    device = join(world, device)
    try:
        record = _train(config, out_dir, state, world, device, data, progress and world.main, stop_after_epochs,
                        global_batch, tqdm)
        if tune and record.get("epoch", 0) >= config["train"]["epochs"]:
            finish(out_dir, data, device, world, progress)
        return record
    finally:
        if opened:
            leave(world)


def finish(out_dir: Path, data, device, world: World, progress: bool) -> None:
    """Critic tuning of a finished run's kept weights (its ``config.json`` says how), by the main process alone,
    on the CPU cores of every process of its machine. The other processes return at once (torchrun waits for all
    of them): a barrier behind the tuning would time out after the process group's 30 minutes, which a tuning of
    48 x 48 levels on one thread passes, and torchrun would then stop the main process too."""
    from daedalus.trainer.tune import tune_run

    if not world.main:
        return
    config = ckpt.read_config(out_dir)
    if "tune_rounds" not in config["train"]:  # runs from before critic tuning have none
        return
    threads = torch.get_num_threads()
    if device.type == "cpu" and world.distributed:
        torch.set_num_threads(threads * local_processes(world))
    try:
        tune_run(out_dir, config, data, device, progress)
    finally:
        torch.set_num_threads(threads)


def check_init_size(model_config: dict, data, init: str) -> None:
    """UsageError when the levels of ``data`` are not the size the model of the run ``init`` draws."""
    size = (int(model_config["height"]), int(model_config["width"]))
    found = tuple(int(n) for n in np.asarray(data.train).shape[1:3])
    if found != size:
        raise UsageError(f"the training levels are {found[0]}x{found[1]}, but init {init!r} has a model that draws "
                         f"{size[0]}x{size[1]} levels")


def _noise_seed(seed: int, rank: int, epoch: int) -> int:
    """The seed of a process's own noise generator (several processes only): from the run's seed, the rank and the
    epoch it starts at."""
    return int(np.random.SeedSequence([seed, 5, rank, epoch]).generate_state(1, np.uint64)[0])


def _train(config, out_dir, state, world: World, device, data, progress, stop_after_epochs, global_batch, tqdm):
    tcfg, dcfg, scfg = config["train"], config["data"], config["schedule"]
    seed = tcfg["seed"]
    # Seed every RNG a library might touch; our own randomness goes through explicit generators.
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    model = build_model(config["model"])
    if state is None and tcfg.get("init") is not None:
        ckpt.load_weights(model, tcfg["init"])
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=tcfg["lr"])
    # ``generator`` draws each epoch's permutation: the same on every process. One process draws its noise from it
    # too (as it always has); several draw noise from their own.
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    noise = generator

    # Only now that device and data are known to work, so a refused run leaves no empty folder behind.
    if world.main:
        out_dir.mkdir(parents=True, exist_ok=True)
    x_train = torch.from_numpy(data.train).to(device)
    # The flips and turns each epoch shows the levels under (drawn from the epoch's generator, so every process
    # draws the same); just the identity for many runs, which then draw nothing more. A small corpus is shown
    # under several of them each epoch (``repeats`` different ones per level), so it gets the steps of a larger one.
    views = augment.EpochViews(tcfg.get("symmetries", ["identity"]), data.train_labels, len(x_train))
    repeats = views.repeats
    x_hold = torch.from_numpy(data.holdout).to(device)
    n = len(x_train) * repeats
    steps_per_epoch = math.ceil(n / global_batch)
    total_steps = steps_per_epoch * tcfg["epochs"]
    step, epoch, history, log = 0, 0, [], []
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"].to("cpu") if device.type == "cpu" else state["generator"])
        torch.set_rng_state(state["torch_rng"])
        step, epoch = int(state["step"]), int(state["epoch"])
        history, log = list(state["history"]), list(state["log"])
    elif world.main:
        ckpt.write_json(out_dir / ckpt.CONFIG_FILE, config)
    if world.distributed:
        noise = torch.Generator(device=device)
        saved = (state or {}).get("noise_generators")
        if saved is not None and len(saved) == world.size:
            noise.set_state(saved[world.rank].to("cpu") if device.type == "cpu" else saved[world.rank])
        else:
            noise.manual_seed(_noise_seed(seed, world.rank, epoch))
        import inspect

        from torch.nn.parallel import DistributedDataParallel

        # The buffers are constants (lattice indices, context bits): nothing to broadcast on every step.
        quiet = ({"forward_sync_buffers": False} if "forward_sync_buffers" in
                 inspect.signature(DistributedDataParallel).parameters else {"broadcast_buffers": False})
        forward = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None, **quiet)
    else:
        forward = model

    is_maze = is_maze_data(dcfg)
    is_vae = config["model"]["kind"] == "vae"
    if is_vae and state is None and world.main:
        # β is a function of the step: a run with no more steps than cycles never leaves a cycle's start (β = 0).
        notice = schedule_warning(scfg, total_steps, steps_per_epoch)
        if notice:
            warnings.warn(notice, ScheduleWarning, stacklevel=3)
    record = log[-1] if log else {}
    ran = 0
    share = global_batch // world.size
    model.train()
    while epoch < tcfg["epochs"]:
        if stop_after_epochs is not None and ran >= stop_after_epochs:
            break
        sharded = False
        if is_maze and dcfg.get("fresh") and epoch > 0:
            # Several processes: each draws its own share of the epoch's mazes (its own seed per rank and epoch).
            shard = (world.rank, world.size) if world.distributed else None
            x_train = torch.from_numpy(maze_set(dcfg, epoch, shard)).to(device)
            sharded = world.distributed
        started = time.perf_counter()
        order = torch.randperm(len(x_train) * repeats, generator=generator, device=device)
        x_epoch = views.epoch(x_train, generator)
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{tcfg['epochs']}", disable=not progress,
                   leave=False, unit="step")
        sums = {"loss": 0.0, "rec": 0.0, "kl": 0.0}
        seen = 0
        for i in bar:
            beta = kl_weight(step, total_steps, **scfg) if is_vae else 0.0
            rate = learning_rate(step, total_steps, tcfg["lr"], tcfg.get("lr_schedule", "constant"))
            for group in optimizer.param_groups:
                group["lr"] = rate
            if sharded:
                index = order[i * share : (i + 1) * share]
            else:
                index = order[i * global_batch : (i + 1) * global_batch][world.rank :: world.size]
            weight = 1.0
            if len(index) == 0:
                # The last global batch is smaller than the world: this process still joins the gradient
                # average (with a weight of 0), or the others would wait for it.
                index, weight = order[:1], 0.0
            batch = x_epoch[index]
            parts = loss_parts(model, batch, beta, tcfg["loss"], noise, tcfg.get("free_bits", 0.0), forward)
            loss = parts["loss"]
            if world.distributed:
                # One small all-reduce: the global batch's loss parts (for the log and a check every process agrees
                # on), and each process's weight in the gradient average, so that a smaller last batch counts as
                # its size (DistributedDataParallel averages the processes' gradients with equal weights).
                count = weight * len(batch)
                totals = world.all_sum(torch.tensor([loss.item() * count, parts["rec"].sum().item() * weight,
                                                     parts["kl"].sum().item() * weight, count],
                                                    dtype=torch.float64, device=device)).tolist()
                batch_size = totals[3]
                value, rec, kl = (t / batch_size for t in totals[:3])
                scale = count * world.size / batch_size
            else:
                batch_size, value = len(batch), loss.item()
                rec, kl = parts["rec"].mean().item(), parts["kl"].mean().item()
                scale = 1.0
            if not math.isfinite(value):
                kept = (f"the last good checkpoint (epoch {epoch}, step {epoch * steps_per_epoch}) is kept in "
                        f"{str(out_dir)!r}") if epoch > 0 else "no checkpoint had been written yet"
                raise TrainingDiverged(f"loss became {value} at step {step} (epoch {epoch + 1}); training "
                                       f"stopped, {kept}")
            optimizer.zero_grad(set_to_none=True)
            (loss if scale == 1.0 else loss * scale).backward()
            optimizer.step()
            history.append([step, value, rec, kl, beta])
            for key, part in (("loss", value), ("rec", rec), ("kl", kl)):
                sums[key] += part * batch_size
            seen += batch_size
            bar.set_postfix(loss=f"{value:.2f}", rec=f"{rec:.2f}", kl=f"{kl:.2f}", beta=f"{beta:.3f}")
            step += 1
        bar.close()
        epoch += 1
        ran += 1
        # Sync point: every process's noise state, and a fingerprint of its weights (they must all be the same).
        noise_states = world.gather(noise.get_state().cpu()) if world.distributed else None
        digests = world.gather(weights_digest(model)) if world.distributed else None
        if world.main:
            record = {"epoch": epoch, "step": step, "seconds": round(time.perf_counter() - started, 3),
                      **{f"train_{k}": v / seen for k, v in sums.items()}, "beta": history[-1][4]}
            record["world_size"] = world.size
            if world.distributed:
                record["weights_sha256"] = digests
            record.update(evaluate(model, x_hold, tcfg["loss"]))
            if is_maze and tcfg["eval_samples"]:
                quality = prior_quality(model, tcfg["eval_samples"], np.random.default_rng([seed, 4, epoch]),
                                        config["threshold"])
                record.update({f"prior_{k}": v for k, v in quality.items()})
            # model.safetensors holds the weights a run keeps: the last epoch's, or with keep "best" those of the
            # epoch with the lowest held-out loss so far (a small corpus is memorised long before the last epoch).
            # The loss is the one the run minimises at full β, not the ELBO: at β < 1 the ELBO's full KL prefers the
            # first epochs, whose codes say little (EXPERIMENTS.md "The walk chosen by likelihood").
            beta = scfg["beta_max"] if is_vae else 0.0
            kept = tcfg.get("keep", "last") == "last" or "holdout_rec" not in record or held_out_loss(
                record, beta) <= min((held_out_loss(r, beta) for r in log if "holdout_rec" in r), default=math.inf)
            record["kept"] = bool(kept)
            log.append(record)
            if progress:
                tqdm.write(_summary(record))
            _checkpoint(out_dir, model, optimizer, generator, step, epoch, history, log, noise_states, kept)
            if digests is not None and len(set(digests)) > 1:
                raise DaedalusError(f"the processes' weights differ after epoch {epoch} (sha256 {digests}): "
                                    f"DistributedDataParallel lost sync")
        world.barrier()

    if epoch >= tcfg["epochs"] and tcfg.get("figures", True) and stop_after_epochs is None and world.main:
        from daedalus.trainer.figures import run_figures

        if not record.get("kept", True):
            from safetensors.torch import load_file

            model.load_state_dict(load_file(out_dir / ckpt.WEIGHTS_FILE, device=str(device)))
        run_figures(out_dir, model, config, data, history)
    world.barrier()
    return world.broadcast(record)


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 of a model's parameters and buffers in ``state_dict`` order (the bytes of each tensor)."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _summary(record: dict) -> str:
    text = (f"epoch {record['epoch']}: loss {record['train_loss']:.3f} (rec {record['train_rec']:.3f}, "
            f"kl {record['train_kl']:.3f}, beta {record['beta']:.3f})")
    if "holdout_rec" in record:
        text += f", held-out rec {record['holdout_rec']:.3f}"
    if "prior_perfect" in record:
        text += (f", prior: perfect {record['prior_perfect']:.3f}, solvable {record['prior_solvable']:.3f}, "
                 f"border corridor {record['prior_border_corridor']:.3f}")
    return text


def held_out_loss(record: dict, beta: float) -> float:
    """An epoch's held-out training loss at weight ``beta``: reconstruction + β · KL (what keep "best" compares)."""
    return float(record["holdout_rec"]) + beta * float(record.get("holdout_kl", 0.0))


def held_out_nats(record: dict) -> float:
    """An epoch's held-out bound: reconstruction + KL, nats per level (what model "auto" compares)."""
    return held_out_loss(record, 1.0)


def kept_record(log: list[dict]) -> dict:
    """The log record of the epoch whose weights the run folder's model.safetensors holds."""
    kept = [r for r in log if r.get("kept", True)]
    return kept[-1] if kept else log[-1]


def _checkpoint(out_dir: Path, model, optimizer, generator, step, epoch, history, log,
                noise_states: list | None = None, kept: bool = True) -> None:
    import json

    from daedalus.files import atomic_write

    # state.pt first: it alone drives a resume, so a kill between the two writes loses nothing.
    ckpt.save_state(out_dir, {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "epoch": epoch,
        "generator": generator.get_state(), "torch_rng": torch.get_rng_state(), "history": history, "log": log,
        # Several processes: each one's noise generator, in rank order (a resume at the same world size goes on
        # with them; at another, each process seeds its own).
        **({"noise_generators": noise_states} if noise_states is not None else {}),
    })
    if kept or not (out_dir / ckpt.WEIGHTS_FILE).exists():
        ckpt.save_weights(out_dir, model, step)
    atomic_write(out_dir / LOG_FILE, "".join(json.dumps(_finite(r)) + "\n" for r in log).encode())


def _finite(record: dict) -> dict:
    """NaN (e.g. the mean solution length when no sample is solvable) as JSON null: strict JSON has no NaN."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
