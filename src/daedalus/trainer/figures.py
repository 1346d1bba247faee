"""Figures of a run (PNG, matplotlib Agg): reconstructions, the latent space, the decoded latent plane, prior
samples raw and clipped, loss parts and β over steps, the KL schedule. Every figure is rebuilt by
``daedalus train`` at the end of a run, or by :func:`run_figures` from a run folder."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from daedalus.files import atomic_write
from daedalus.trainer.data import is_maze_data


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    _plt().close(fig)
    atomic_write(path, buffer.getvalue())


def _sheet(ax, images: np.ndarray, columns: int, title: str) -> None:
    rows = int(np.ceil(len(images) / columns))
    h, w = images.shape[1:]
    canvas = np.full((rows * (h + 1) + 1, columns * (w + 1) + 1), 0.35, dtype=np.float32)
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        canvas[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w] = image
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title)
    ax.axis("off")


def _pca(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, the first two principal axes (rows) and their standard deviations."""
    mean = points.mean(axis=0)
    _, s, vt = np.linalg.svd(points - mean, full_matrices=False)
    return mean, vt[:2], s[:2] / np.sqrt(max(1, len(points) - 1))


def schedule_figure(schedule: dict, total_steps: int, path: Path, steps_per_epoch: int | None = None) -> None:
    """β over the steps of a run under ``schedule``."""
    from daedalus.trainer.schedules import schedule_weights

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.plot(schedule_weights(schedule, total_steps), color="tab:purple")
    ax.set_xlabel("step")
    ax.set_ylabel("KL weight β")
    extra = f", {schedule['cycles']} cycles, ratio {schedule['ratio']}" if schedule["kind"] == "cyclical" else ""
    ax.set_title(f"KL schedule: {schedule['kind']}{extra}")
    ax.set_ylim(-0.05, max(1.0, schedule["beta_max"]) * 1.05)
    _save(fig, path)


@torch.no_grad()
def decode_numpy(model, z: np.ndarray) -> np.ndarray:
    """The decoder's preview images (``model.preview``) of numpy codes, float32 ``[N, H, W]``."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = [model.preview(torch.from_numpy(chunk).float().to(device)).cpu().numpy()
           for chunk in np.array_split(z, max(1, -(-len(z) // 1024)))]
    model.train(was_training)
    return np.concatenate(out)


def run_figures(run_dir: str | Path, model, config: dict, data, history: list) -> list[Path]:
    """Write every figure of a run into ``run_dir``; returns the paths."""
    from daedalus.maze.stats import solution_length

    plt = _plt()
    run_dir = Path(run_dir)
    written = []
    device = next(model.parameters()).device
    model.eval()
    is_maze = is_maze_data(config["data"])
    threshold = config["threshold"]

    # Reconstructions next to their inputs.
    inputs = data.holdout[:8] if len(data.holdout) >= 8 else data.train[:8]
    with torch.no_grad():
        mu, _ = model.encode(torch.from_numpy(inputs).to(device))
        recon = model.preview(mu).cpu().numpy()
    levels = model.sample_grids(mu.cpu().numpy(), np.random.default_rng(0), threshold)
    fig, axes = plt.subplots(3 if is_maze else 2, 1, figsize=(8, 4.6 if is_maze else 3.2))
    _sheet(axes[0], inputs, 8, "held-out inputs")
    _sheet(axes[1], recon, 8, "reconstructions (what the decoder draws)")
    if is_maze:
        _sheet(axes[2], levels.astype(np.float32), 8, "reconstructed levels (before repair)")
    written.append(run_dir / "reconstructions.png")
    _save(fig, written[-1])

    # The latent space (PCA above 2 dimensions), coloured by digit or solution length.
    points = np.concatenate([data.train[:2000], data.holdout])
    with torch.no_grad():
        codes = np.concatenate([model.encode(torch.from_numpy(chunk).to(device))[0].cpu().numpy()
                                for chunk in np.array_split(points, max(1, len(points) // 512))])
    if model.latent_dim > 2:
        mean, axes2, scale = _pca(codes)
        flat = (codes - mean) @ axes2.T
        labels = ("PC 1", "PC 2")
    else:
        flat = codes if model.latent_dim == 2 else np.c_[codes, np.zeros(len(codes))]
        mean, axes2, scale = flat.mean(axis=0), np.eye(2), flat.std(axis=0) + 1e-6
        labels = ("z 1", "z 2")
    if is_maze:
        colour, name = solution_length(points.astype(np.uint8)), "solution length"
    else:
        train_labels = data.train_labels[:2000] if data.train_labels is not None else np.zeros(0)
        colour, name = np.concatenate([train_labels, data.holdout_labels]), "digit"
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sc = ax.scatter(flat[:, 0], flat[:, 1], c=colour, s=4, cmap="viridis" if is_maze else "tab10")
    fig.colorbar(sc, ax=ax, label=name)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title("latent means of the data" + (" (PCA)" if model.latent_dim > 2 else ""))
    written.append(run_dir / "latent.png")
    _save(fig, written[-1])

    # Decoded grid over the latent plane: ±3 (prior units) for a VAE in 2-D, ±2 std along the PCA axes otherwise.
    if model.latent_dim >= 2:
        steps = 8
        span = np.linspace(-2, 2, steps)
        if model.latent_dim == 2 and config["model"]["kind"] == "vae":
            span, mean, axes2, scale = np.linspace(-3, 3, steps), np.zeros(2), np.eye(2), np.ones(2)
        a, b = np.meshgrid(span, span[::-1])
        z = mean + (a.reshape(-1, 1) * scale[0]) * axes2[0] + (b.reshape(-1, 1) * scale[1]) * axes2[1]
        grid = decode_numpy(model, z.astype(np.float32))  # the decoder's preview of each code
        fig, ax = plt.subplots(figsize=(7, 7))
        _sheet(ax, grid, steps, "decoded latent plane" + (" (PCA axes)" if model.latent_dim > 2 else ""))
        written.append(run_dir / "latent_grid.png")
        _save(fig, written[-1])

    # Prior samples, raw and clipped.
    z = np.random.default_rng([config["train"]["seed"], 5]).standard_normal((16, model.latent_dim)).astype(np.float32)
    raw = decode_numpy(model, z)
    levels = model.sample_grids(z, np.random.default_rng([config["train"]["seed"], 6]), threshold)
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.4))
    _sheet(axes[0], raw, 4, "prior samples z ~ N(0, I): what the decoder draws")
    _sheet(axes[1], levels.astype(np.float32), 4, "the same codes as levels (before repair)")
    written.append(run_dir / "samples.png")
    _save(fig, written[-1])

    # Loss parts and β over steps.
    if history:
        h = np.asarray(history, dtype=np.float64)
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(h[:, 0], h[:, 2], label="reconstruction / sample", color="tab:blue")
        ax.plot(h[:, 0], h[:, 3], label="KL / sample", color="tab:orange")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss part")
        ax2 = ax.twinx()
        ax2.plot(h[:, 0], h[:, 4], label="β", color="tab:purple", alpha=0.6)
        ax2.set_ylabel("β")
        ax2.set_ylim(-0.05, max(1.0, h[:, 4].max()) * 1.05)
        lines = ax.get_lines() + ax2.get_lines()
        ax.legend(lines, [line.get_label() for line in lines], loc="upper right", fontsize=8)
        ax.set_title("training loss parts and KL weight")
        written.append(run_dir / "losses.png")
        _save(fig, written[-1])
        schedule_figure(config["schedule"], len(history), run_dir / "schedule.png")
        written.append(run_dir / "schedule.png")
    return written
