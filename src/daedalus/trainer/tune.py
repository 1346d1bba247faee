"""Critic tuning: the last stage of a run (``tune_rounds`` > 0), which moves a walk decoder's own levels towards
what a critic calls corpus-like, so that ``generate`` draws closer to the corpus at no cost at run time
(EXPERIMENTS.md "The critic distilled into the decoder"; docs/training.md "Critic tuning").

Maximum likelihood makes the walk cover the corpus; what it cannot draw exactly it spreads thin, and a small CNN
tells those levels apart (the two-sample test). Each round of tuning:

1. draws ``CRITIC_LEVELS`` levels from the decoder (codes from N(0, I), the walk's own noise, the mode the corpus
   is drawn in: braid where it has loops);
2. trains a fresh critic (the two-sample test's CNN, ``daedalus.trainer.critic.train_critic``) to tell them from
   the training levels under the symmetries the run found; its logit estimates ``log p_corpus(x) / p_decoder(x)``;
3. takes ``tune_steps`` steps, each on ``BATCH`` levels drawn anew: the policy gradient of the walk's exact
   likelihood, ``mean((r - mean r) · NLL(x | code))`` with the reward ``r`` the critic's logit clipped to
   ``±REWARD_CLIP`` (a ratio the critic cannot vouch for beyond that), weighted by ``tune_weight``, plus the
   run's own loss (reconstruction + β_max · KL) on a batch of training levels, which keeps the decoder covering
   the corpus. Its expected reward is minus the reverse KL from the decoder to the corpus, as far as the critic
   sees.

A fresh critic each round stops the decoder from fitting one critic's blind spots: with a few hundred steps against
one critic (or a weight of 1) the decoder learns to fool it and its levels get worse, which the rounds' log shows
as a mean reward far above 0.

Everything is drawn from generators seeded by the run's seed, so a run resumed after a kill during tuning ends
with the same weights.
"""

from __future__ import annotations

import numpy as np
import torch

# Training levels below which a run is not tuned: the critic would learn the few levels themselves. A corpus of
# 200 levels keeps 180 to train on (a tenth is held out), the fewest measured (EXPERIMENTS.md "The critic distilled
# into the decoder": Prim 200, 0.721 -> 0.697).
MIN_LEVELS = 150
CRITIC_LEVELS = 4000
CRITIC_STEPS = 500
MAX_VIEWS = 40_000
BATCH = 128
CORPUS_BATCH = 64
LEARNING_RATE = 1e-4
REWARD_CLIP = 3.0
GRAD_CLIP = 10.0


def skip_reason(model, train: np.ndarray, labels, rounds: int) -> str | None:
    """Why a run is not tuned, or None: no rounds asked for, a decoder without an exact walk likelihood, or too few
    levels (of every style, for a many-style corpus: a style with fewer is left as trained)."""
    if rounds == 0:
        return "tune_rounds is 0"
    if not model.TUNABLE:
        return f"the {model.DECODING} decoder has no exact likelihood of its own levels to tune"
    if labels is None:
        if len(train) < MIN_LEVELS:
            return f"{len(train)} training levels (critic tuning needs at least {MIN_LEVELS})"
        return None
    counts = np.bincount(np.asarray(labels, dtype=np.int64))
    if counts.max(initial=0) < MIN_LEVELS:
        return (f"no style has {MIN_LEVELS} training levels (the most: {counts.max(initial=0)}; critic tuning "
                f"needs at least {MIN_LEVELS} of a style)")
    return None


class _Style:
    """One style being tuned: its training views, how its codes are drawn and the mode its levels are drawn in."""

    def __init__(self, name: str, grids: np.ndarray, symmetries: list[str], model, rng, share: int):
        from daedalus.maze.stats import loops as loop_counts
        from daedalus.maze.symmetry import transform

        self.name = name
        self.grids = grids
        views = np.concatenate([transform(grids, sym) for sym in symmetries])
        self.views = views[rng.permutation(len(views))[:share]]
        self.braid = bool(model.loops and (np.atleast_1d(loop_counts(grids)) > 0).any())
        self.gaussian = None  # (mean, scale_tril) of the style's codes; None: the prior N(0, I)

    def fit_codes(self, model) -> None:
        """Refit the style's code Gaussian to the model as it is now (the one export writes is fitted the same way,
        after tuning)."""
        from daedalus.export.onnx_export import code_gaussian

        was_training = model.training
        model.eval()
        self.gaussian = code_gaussian(model, self.grids)
        model.train(was_training)

    def codes(self, rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
        eps = _codes(rng, count, dim)
        if self.gaussian is None:
            return eps
        mean, tril = self.gaussian
        return (eps.astype(np.float64) @ tril.T + mean).astype(np.float32)


def _styles(model, grids, labels, names, symmetries, rng, fitted: bool = False) -> list[_Style]:
    """The styles to tune: the whole corpus under its symmetries (one style; drawn from N(0, I), or from its code
    Gaussian when ``fitted``: the prior the export records is then that Gaussian), or each style of a many-style
    corpus with at least ``MIN_LEVELS`` training levels, under its own symmetries, drawn from its code Gaussian."""
    if labels is None:
        style = _Style("", grids, symmetries, model, rng, MAX_VIEWS)
        if fitted:
            style.fit_codes(model)
        return [style]
    styles = []
    for index in range(int(labels.max()) + 1):
        own = grids[labels == index]
        if len(own) >= MIN_LEVELS:
            name = names[index] if names is not None and index < len(names) else str(index)
            styles.append(_Style(name, own, style_symmetries(symmetries, index), model, rng, MAX_VIEWS // 4))
            styles[-1].fit_codes(model)
    return styles


def style_symmetries(symmetries: list, index: int) -> list[str]:
    """The transforms of style ``index`` in a run's ``symmetries`` (one group for every style, or one per style)."""
    if not symmetries or isinstance(symmetries[0], str):
        return list(symmetries or ["identity"])
    return list(symmetries[index])


def tune(model, train: np.ndarray, symmetries: list, beta: float, rounds: int, steps: int, weight: float,
         seed: int, progress: bool = False, labels: np.ndarray | None = None,
         style_names: list[str] | None = None, fitted: bool = False) -> list[dict]:
    """Tune ``model`` (a decoder with ``TUNABLE``) in place on the training levels ``train`` ``(N, H, W)``, shown
    under ``symmetries``; returns one record per round (the critic's training accuracy and the mean reward) and
    leaves the model in eval mode.

    A many-style corpus (``labels``: each level's style index; ``symmetries``: one group per style) is tuned style
    by style against the mixture's loss: each round trains one critic per style (the style's levels drawn from its
    code Gaussian, refitted each round, against that style's training views), and each step draws ``BATCH`` levels
    of every style, each rewarded by its own style's critic and centred within the style. The record then holds
    each style's critic accuracy and mean reward too. ``fitted``: a one-style corpus's levels are drawn from its
    code Gaussian, refitted each round, as the export's aggregate prior draws them (a run from ``--init``)."""
    from tqdm import tqdm

    from daedalus.trainer.critic import logits_of, train_critic
    from daedalus.trainer.train import loss_parts

    rng = np.random.default_rng([seed, 7])
    grids = (np.asarray(train) > 0.5).astype(np.uint8)
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64)
    styles = _styles(model, grids, labels, style_names, symmetries, rng, fitted)
    if labels is None:
        corpus_views = styles[0].views
    else:  # the mixture's loss is taken on every style, tuned or not, under its own symmetries
        corpus_views = np.concatenate([
            _Style("", grids[labels == i], style_symmetries(symmetries, i), model, rng, MAX_VIEWS // 4).views
            for i in range(int(labels.max()) + 1) if (labels == i).any()])
    corpus = torch.from_numpy(corpus_views.astype(np.float32))
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    critic_levels = max(1000, CRITIC_LEVELS // len(styles))
    records = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**31)))
        model.train()
        for round_ in tqdm(range(rounds), desc="critic tuning", unit="round", disable=not progress, leave=False):
            critics, told = [], []
            for style in styles:
                if round_ and style.gaussian is not None:
                    style.fit_codes(model)
                drawn = model.sample_grids(style.codes(rng, critic_levels, model.latent_dim), rng, loops=style.braid)
                critic = train_critic(drawn, style.views, CRITIC_STEPS, int(rng.integers(2**31)))
                critics.append(critic)
                told.append(np.concatenate([logits_of(critic, drawn) < 0,
                                            logits_of(critic, style.views[:len(drawn)]) > 0]).mean())
            rewards = np.zeros((steps, len(styles)))
            for step in range(steps):
                policy = 0.0
                for index, (style, critic) in enumerate(zip(styles, critics)):
                    code = style.codes(rng, BATCH, model.latent_dim)
                    levels = model.sample_grids(code, rng, loops=style.braid)
                    reward = torch.from_numpy(logits_of(critic, levels)).clamp(-REWARD_CLIP, REWARD_CLIP)
                    nll = model.level_nll(torch.from_numpy(code), levels)
                    policy = policy + ((reward - reward.mean()) * nll).mean() / len(styles)
                    rewards[step, index] = float(reward.mean())
                batch = corpus[torch.from_numpy(rng.integers(0, len(corpus), CORPUS_BATCH))]
                loss = loss_parts(model, batch, beta, "model")["loss"] + weight * policy
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
                optimizer.step()
            if not np.isfinite(rewards).all() or not all(torch.isfinite(p).all() for p in model.parameters()):
                from daedalus.trainer.train import TrainingDiverged

                raise TrainingDiverged(f"critic tuning diverged in round {round_ + 1} (non-finite weights or "
                                       f"rewards); the run's trained weights are kept untuned")
            record = {"round": round_ + 1, "critic_accuracy": round(float(np.mean(told)), 4),
                      "mean_reward": round(float(rewards.mean()), 4) if steps else None}
            if labels is not None:
                record["styles"] = {style.name: {"critic_accuracy": round(float(acc), 4),
                                                 "mean_reward": round(float(rewards[:, i].mean()), 4)}
                                    for i, (style, acc) in enumerate(zip(styles, told))}
            records.append(record)
    model.eval()
    return records


def _codes(rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
    return rng.standard_normal((count, dim)).astype(np.float32)


TUNE_FILE = "tune.json"


def report(run_dir) -> dict | None:
    """A run's ``tune.json`` (what critic tuning did, or why it was skipped), or None when it has none or it is
    unreadable (a resume then tunes again)."""
    import json
    from pathlib import Path

    try:
        return json.loads((Path(run_dir) / TUNE_FILE).read_text())
    except (OSError, ValueError):
        return None


def tuned_digest(run_dir) -> str | None:
    """The sha256 of the tuned weights a run's ``tune.json`` records, or None (not tuned, or skipped)."""
    return (report(run_dir) or {}).get("weights_sha256")


def summary(run_dir) -> str | None:
    """One line on a run's critic tuning (from its ``tune.json``), or None when it has none."""
    done = report(run_dir)
    if done is None:
        return None
    if "skipped" in done:
        return f"critic tuning skipped: {done['skipped']}"
    last = done["rounds"][-1] if done["rounds"] else {}
    styles = f", {len(last['styles'])} styles" if last.get("styles") else ""
    critic = "critics (mean over styles)" if styles else "critic"
    return (f"critic tuning: {len(done['rounds'])} rounds of {done['steps']} steps in {done['seconds']:.0f} s{styles} "
            f"(last {critic} told the decoder's levels from the corpus's {last.get('critic_accuracy', 0):.3f} of "
            f"the time)")


def tune_run(run_dir, config: dict, data, device, progress: bool = False) -> dict:
    """The last stage of ``daedalus train``: tune the run's kept weights (``model.safetensors``) and write them back,
    with ``tune.json`` saying what was done (each round's record, or why it was skipped). Done once: a run whose
    weights are the ones ``tune.json`` names is left as it is, so ``--resume`` after a kill during tuning tunes the
    trained weights again, to the same end. Returns the ``tune.json`` content."""
    import json
    import time
    from pathlib import Path

    from daedalus.files import atomic_write
    from daedalus.trainer import checkpoint as ckpt
    from daedalus.trainer.train import weights_digest

    run_dir = Path(run_dir)
    model, _ = ckpt.load_model(run_dir, device)
    done = report(run_dir)
    if done is not None and done.get("weights_sha256") == weights_digest(model):
        return done
    tcfg = config["train"]
    rounds = int(tcfg.get("tune_rounds", 0))
    why = skip_reason(model, data.train, data.train_labels, rounds)
    if why is not None:
        skipped = {"skipped": why}
        atomic_write(run_dir / TUNE_FILE, json.dumps(skipped, indent=1).encode())
        return skipped
    started = time.perf_counter()
    beta = config["schedule"]["beta_max"] if config["model"]["kind"] == "vae" else 0.0
    records = tune(model, data.train, tcfg.get("symmetries", ["identity"]), beta, rounds, int(tcfg["tune_steps"]),
                   float(tcfg["tune_weight"]), int(tcfg["seed"]), progress, labels=data.train_labels,
                   style_names=config["data"].get("styles"), fitted=config.get("prior") == "aggregate")
    tuned = {"rounds": records, "steps": int(tcfg["tune_steps"]), "weight": float(tcfg["tune_weight"]),
             "seconds": round(time.perf_counter() - started, 1), "threads": torch.get_num_threads(),
             "weights_sha256": weights_digest(model)}
    # tune.json first: a kill before the weights land leaves a digest the untuned weights do not match.
    atomic_write(run_dir / TUNE_FILE, json.dumps(tuned, indent=1).encode())
    ckpt.save_weights(run_dir, model, int(ckpt.load_state(run_dir)["step"]))
    return tuned
