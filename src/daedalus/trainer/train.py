"""The training loop. It knows the model only through ``forward``/``decode`` and the loss parts (minGPT style).

Per step: β from the schedule (a pure function of the step), the loss ``mean(reconstruction + β · KL)`` over the
batch, an Adam step. Per epoch: held-out losses, maze statistics of prior samples, one JSON line in ``log.jsonl``
and an atomic checkpoint. A non-finite loss stops the run with its step and keeps the last good checkpoint.
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
from daedalus.trainer import checkpoint as ckpt
from daedalus.trainer.data import is_maze_data, load_dataset, maze_set
from daedalus.trainer.losses import kl_divergence
from daedalus.trainer.models import MazeAutoencoder, build_model
from daedalus.trainer.schedules import ScheduleWarning, kl_weight, schedule_warning

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
               generator: torch.Generator | None = None, free_bits: float = 0.0) -> dict[str, torch.Tensor]:
    """Per-sample reconstruction and KL for a batch and the scalar loss ``mean(rec) + β · KL term``.

    The reconstruction is the model's ``reconstruction(logits, target, loss)`` (``loss`` names the per-position
    loss of a threshold decoder; a walk decoder has its own likelihood). The KL term is ``mean(KL)``, or with
    ``free_bits`` > 0 the sum over latent dimensions of ``max(free_bits, batch-mean KL of the dimension)``:
    dimensions under the floor get no push towards the prior, so the code does not collapse. The logged ``kl`` is
    always the plain per-sample KL.
    """
    out = model(x, generator=generator)
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


def train(config: dict, out_dir: str | Path, resume: bool = False, progress: bool = True,
          stop_after_epochs: int | None = None) -> dict:
    """Train the model ``config`` describes, writing a run folder.

    Args:
        config: a resolved configuration (``daedalus.trainer.config.resolve_config``); on resume the folder's
            own ``config.json`` is used instead.
        out_dir: the run folder (created if missing).
        resume: continue from the folder's ``state.pt``; ends with the same weights as an uninterrupted run.
        progress: show a tqdm bar.
        stop_after_epochs: stop after this many epochs in this call (as a kill would; for tests).

    Returns:
        The last epoch's log record.

    Raises:
        TrainingDiverged: the loss became non-finite (message names the step); the last good checkpoint is kept.
        CheckpointError: a missing or corrupt checkpoint on resume.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    if resume:
        config = ckpt.read_config(out_dir)
        state = ckpt.load_state(out_dir)
    else:
        if (out_dir / ckpt.STATE_FILE).exists():
            raise UsageError(f"run folder {str(out_dir)!r} already holds a checkpoint: continue it with --resume "
                             f"or pick another --out")
        state = None
    tcfg, dcfg, scfg = config["train"], config["data"], config["schedule"]
    seed = tcfg["seed"]
    if config["model"].get("output") == "links" and not is_maze_data(dcfg):
        raise UsageError(f"model {config['model'].get('name')!r} predicts maze links and trains on mazes only, "
                         f"got data {dcfg['kind']!r} (use seed-ae or seed-vae for digits)")
    device = pick_device(tcfg["device"])
    check_memory(training_memory(config), f"training {config['model'].get('name', 'the model')} on "
                                          f"{config['model'].get('height', 28)}x{config['model'].get('width', 28)} "
                                          f"levels")

    # Seed every RNG a library might touch; our own randomness goes through explicit generators.
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    model = build_model(config["model"]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=tcfg["lr"])
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)

    data = load_dataset(dcfg)
    # Only now that device and data are known to work, so a refused run leaves no empty folder behind.
    out_dir.mkdir(parents=True, exist_ok=True)
    x_train = torch.from_numpy(data.train).to(device)
    x_hold = torch.from_numpy(data.holdout).to(device)
    n = len(x_train)
    steps_per_epoch = math.ceil(n / tcfg["batch_size"])
    total_steps = steps_per_epoch * tcfg["epochs"]
    step, epoch, history, log = 0, 0, [], []
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"].to("cpu") if device.type == "cpu" else state["generator"])
        torch.set_rng_state(state["torch_rng"])
        step, epoch = int(state["step"]), int(state["epoch"])
        history, log = list(state["history"]), list(state["log"])
    else:
        ckpt.write_json(out_dir / ckpt.CONFIG_FILE, config)

    is_maze = is_maze_data(dcfg)
    is_vae = config["model"]["kind"] == "vae"
    if is_vae and state is None:
        # β is a function of the step: a run with no more steps than cycles never leaves a cycle's start (β = 0).
        notice = schedule_warning(scfg, total_steps, steps_per_epoch)
        if notice:
            warnings.warn(notice, ScheduleWarning, stacklevel=2)
    record = log[-1] if log else {}
    ran = 0
    model.train()
    while epoch < tcfg["epochs"]:
        if stop_after_epochs is not None and ran >= stop_after_epochs:
            break
        if is_maze and dcfg.get("fresh") and epoch > 0:
            x_train = torch.from_numpy(maze_set(dcfg, epoch)).to(device)
        started = time.perf_counter()
        order = torch.randperm(n, generator=generator, device=device)
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{tcfg['epochs']}", disable=not progress,
                   leave=False, unit="step")
        sums = {"loss": 0.0, "rec": 0.0, "kl": 0.0}
        for i in bar:
            beta = kl_weight(step, total_steps, **scfg) if is_vae else 0.0
            batch = x_train[order[i * tcfg["batch_size"] : (i + 1) * tcfg["batch_size"]]]
            parts = loss_parts(model, batch, beta, tcfg["loss"], generator, tcfg.get("free_bits", 0.0))
            loss = parts["loss"]
            if not torch.isfinite(loss):
                kept = (f"the last good checkpoint (epoch {epoch}, step {epoch * steps_per_epoch}) is kept in "
                        f"{str(out_dir)!r}") if epoch > 0 else "no checkpoint had been written yet"
                raise TrainingDiverged(f"loss became {loss.item()} at step {step} (epoch {epoch + 1}); training "
                                       f"stopped, {kept}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            rec, kl = parts["rec"].mean().item(), parts["kl"].mean().item()
            history.append([step, loss.item(), rec, kl, beta])
            for key, value in (("loss", loss.item()), ("rec", rec), ("kl", kl)):
                sums[key] += value * len(batch)
            bar.set_postfix(loss=f"{loss.item():.2f}", rec=f"{rec:.2f}", kl=f"{kl:.2f}", beta=f"{beta:.3f}")
            step += 1
        bar.close()
        epoch += 1
        ran += 1
        record = {"epoch": epoch, "step": step, "seconds": round(time.perf_counter() - started, 3),
                  **{f"train_{k}": v / n for k, v in sums.items()}, "beta": history[-1][4]}
        record.update(evaluate(model, x_hold, tcfg["loss"]))
        if is_maze and tcfg["eval_samples"]:
            quality = prior_quality(model, tcfg["eval_samples"], np.random.default_rng([seed, 4, epoch]),
                                    config["threshold"])
            record.update({f"prior_{k}": v for k, v in quality.items()})
        log.append(record)
        if progress:
            tqdm.write(_summary(record))
        _checkpoint(out_dir, model, optimizer, generator, step, epoch, history, log)

    if epoch >= tcfg["epochs"] and tcfg.get("figures", True) and stop_after_epochs is None:
        from daedalus.trainer.figures import run_figures

        run_figures(out_dir, model, config, data, history)
    return record


def _summary(record: dict) -> str:
    text = (f"epoch {record['epoch']}: loss {record['train_loss']:.3f} (rec {record['train_rec']:.3f}, "
            f"kl {record['train_kl']:.3f}, beta {record['beta']:.3f})")
    if "holdout_rec" in record:
        text += f", held-out rec {record['holdout_rec']:.3f}"
    if "prior_perfect" in record:
        text += (f", prior: perfect {record['prior_perfect']:.3f}, solvable {record['prior_solvable']:.3f}, "
                 f"border corridor {record['prior_border_corridor']:.3f}")
    return text


def _checkpoint(out_dir: Path, model, optimizer, generator, step, epoch, history, log) -> None:
    import json

    from daedalus.files import atomic_write

    # state.pt first: it alone drives a resume, so a kill between the two writes loses nothing.
    ckpt.save_state(out_dir, {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "epoch": epoch,
        "generator": generator.get_state(), "torch_rng": torch.get_rng_state(), "history": history, "log": log,
    })
    ckpt.save_weights(out_dir, model, step)
    atomic_write(out_dir / LOG_FILE, "".join(json.dumps(_finite(r)) + "\n" for r in log).encode())


def _finite(record: dict) -> dict:
    """NaN (e.g. the mean solution length when no sample is solvable) as JSON null: strict JSON has no NaN."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
