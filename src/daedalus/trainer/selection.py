"""The recommended configuration's choice of decoder (``model = "auto"``): train every walk decoder that can draw
the training levels and keep the one whose held-out levels cost the fewest nats.

Each walk decoder is a likelihood over levels (its walk, teacher-forced), so their held-out bounds — reconstruction
plus KL at the epoch each run keeps (``keep``), in nats per level, on the same held-out levels — compare directly:
the lower one explains the corpus better. A decoder refuses the levels it cannot draw (``undrawable``: the carve
walk draws only depth-first trees), so on most corpora one candidate is left and the run is exactly that model's
run; where several are left (a depth-first corpus) each trains in ``candidates/NAME`` and the winner's files are
copied to the run folder, whose ``config.json`` records the comparison under ``"selection"``. See docs/training.md
"The one configuration chooses its walk".
"""

from __future__ import annotations

import json
from pathlib import Path

from daedalus.errors import UsageError
from daedalus.files import atomic_write
from daedalus.trainer import checkpoint as ckpt

AUTO = "auto"
# The decoders "auto" tries, the first one preferred where it is the only one left.
CANDIDATES = ("raster", "carve")
CANDIDATES_DIR = "candidates"
PLAN_FILE = "plan.json"
LOG_FILE = "log.jsonl"


def refusal(model, data) -> str | None:
    """Why ``model`` cannot draw the data (the first training or held-out level it cannot draw, named by its
    source), or None."""
    for split, grids, sources in (("training", data.train, data.train_sources),
                                  ("held-out", data.holdout, data.holdout_sources)):
        found = model.undrawable(grids)
        if found is not None:
            index, why = found
            return f"{sources[index] if sources else f'{split} level {index}'} {why}"
    return None


def _log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / LOG_FILE).read_text().splitlines() if line.strip()]


def _finished(run_dir: Path, epochs: int) -> dict | None:
    """The last log record of a candidate that trained all its epochs, or None."""
    if not (run_dir / LOG_FILE).exists() or not (run_dir / ckpt.STATE_FILE).exists():
        return None
    record = (_log(run_dir) or [{}])[-1]
    return record if record.get("epoch", 0) >= epochs else None


def is_selection(out_dir: str | Path) -> bool:
    """Whether ``out_dir`` holds an ``auto`` run that has not copied its winner yet (a resume continues it)."""
    out_dir = Path(out_dir)
    return not (out_dir / ckpt.CONFIG_FILE).exists() and (out_dir / CANDIDATES_DIR / PLAN_FILE).exists()


def train_selected(config: dict | None, out_dir: str | Path, train, resume: bool = False, progress: bool = True,
                   stop_after_epochs: int | None = None) -> dict:
    """Train the candidates of an ``auto`` configuration (``config["alternatives"]`` beside ``config["model"]``)
    and keep the best; ``train`` is :func:`daedalus.trainer.train.train`. On resume the plan is read from the
    folder. Returns the winner's last log record (or, stopped early, the last record trained)."""
    from daedalus.trainer.data import load_dataset
    from daedalus.trainer.distributed import join, leave, world_from_env
    from daedalus.trainer.models import build_model, fit_to_data
    from daedalus.trainer.train import check_training_memory, pick_device

    out_dir = Path(out_dir)
    folder = out_dir / CANDIDATES_DIR
    world = world_from_env()
    if resume:
        config = json.loads((folder / PLAN_FILE).read_text())
    elif (out_dir / ckpt.STATE_FILE).exists() or folder.exists():
        raise UsageError(f"run folder {str(out_dir)!r} already holds a run: continue it with --resume or pick "
                         f"another --out")
    base = {k: v for k, v in config.items() if k != "alternatives"}
    for model in (config["model"], *config.get("alternatives", [])):
        check_training_memory({**base, "model": model})
    data = load_dataset(base["data"])
    tried, refused = [], {}
    for model in (config["model"], *config.get("alternatives", [])):
        model = fit_to_data(model, data.train, data.holdout)
        why = refusal(build_model(model), data)
        if why is None:
            tried.append(model)
        else:
            refused[model["name"]] = why
    if not tried:
        raise UsageError(f"no decoder can draw this data: {'; '.join(f'{k}: {v}' for k, v in refused.items())}")
    if len(tried) == 1:
        selection = {"chosen": tried[0]["name"], "candidates": {}, "refused": refused}
        return train({**base, "model": tried[0], "selection": selection}, out_dir, progress=progress,
                     stop_after_epochs=stop_after_epochs, dataset=data)

    if world.main:
        folder.mkdir(parents=True, exist_ok=True)
        ckpt.write_json(folder / PLAN_FILE, config)
    # One process group for every candidate (several processes only).
    join(world, pick_device(base["train"]["device"]))
    try:
        return _train_candidates(base, tried, refused, folder, out_dir, world, train, resume, progress,
                                 stop_after_epochs, data)
    finally:
        leave(world)


def _train_candidates(base, tried, refused, folder, out_dir, world, train, resume, progress, stop_after_epochs,
                      data):
    from daedalus.trainer.train import held_out_nats, kept_record

    epochs = base["train"]["epochs"]
    records = {}
    for model in tried:
        name, run_dir = model["name"], folder / model["name"]
        done = _finished(run_dir, epochs) if resume else None
        if done is None:
            again = resume and (run_dir / ckpt.STATE_FILE).exists()
            done = train({**base, "model": model}, run_dir, resume=again, progress=progress,
                         stop_after_epochs=stop_after_epochs, dataset=data, tune=False)
            if done.get("epoch", 0) < epochs:
                return done  # stopped early, as a kill would stop it: --resume goes on from here
        records[name] = done
    # Each candidate is judged by the epoch it keeps (keep "best": its lowest held-out loss).
    nats = {name: held_out_nats(kept_record(_log(folder / name))) for name in records}
    chosen = min(nats, key=nats.get)
    if world.main:
        selection = {"chosen": chosen, "candidates": {k: {"holdout_nats": round(v, 3)} for k, v in nats.items()},
                     "refused": refused}
        _adopt(folder / chosen, out_dir, selection)
    from daedalus.trainer.train import finish, pick_device

    # Critic tuning of the kept candidate; every process returns once the run folder is complete.
    finish(out_dir, data, pick_device(base["train"]["device"]), world, progress)
    return records[chosen]


def _adopt(run_dir: Path, out_dir: Path, selection: dict) -> None:
    """Copy the winner's files into the run folder, ``config.json`` (with the selection) last: a run folder with
    a config.json is complete."""
    for path in sorted(run_dir.iterdir()):
        if path.is_file() and path.name != ckpt.CONFIG_FILE:
            atomic_write(out_dir / path.name, path.read_bytes())
    config = ckpt.read_config(run_dir)
    ckpt.write_json(out_dir / ckpt.CONFIG_FILE, {**config, "selection": selection})
