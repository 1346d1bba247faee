"""Train the critic that ``generate --resample K`` uses, and write it as a small ONNX file.

The critic is the two-sample test's CNN (``daedalus.trainer.two_sample``) trained to tell the decoder's own levels
(drawn by the runtime, exactly as ``generate`` draws them) from the corpus the decoder learnt (with the symmetries
the corpus has, so 200 levels give up to 1,600). With balanced classes its logit estimates
``log p_corpus(x) / p_decoder(x)``, the weight importance resampling needs (``daedalus.runtime.resample``).

The ONNX graph: input ``level`` float32 ``[batch, H, W]`` (1 = floor, 0 = wall), output ``logit`` float32
``[batch]``; three convolutions, pooling, a batch norm and a linear layer: no control flow.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from daedalus.errors import UsageError
from daedalus.files import atomic_write
from daedalus.runtime.resample import CRITIC_FORMAT, CRITIC_INPUT, CRITIC_OUTPUT, file_digest
from daedalus.trainer.critic_cli import DEFAULT_CHANNELS, DEFAULT_STEPS
from daedalus.trainer.two_sample import BATCH_SIZE, LEARNING_RATE, _Critic, _recalibrate, _tensor

MAX_VIEWS = 40_000  # corpus levels times symmetries kept for training (memory: 4 bytes per position)
MIN_MODEL_LEVELS = 2000


def train_critic(model_levels: np.ndarray, corpus: np.ndarray, steps: int = DEFAULT_STEPS, seed: int = 0,
                 progress: bool = False, channels: int = DEFAULT_CHANNELS) -> nn.Module:
    """A ``_Critic`` trained to say 1 for ``corpus`` grids and 0 for ``model_levels`` (classes weighted to balance),
    its batch norm recalibrated on all of them; in eval mode."""
    rng = np.random.default_rng(seed)
    x = _tensor(np.concatenate([model_levels, corpus]))
    y = torch.tensor([0.0] * len(model_levels) + [1.0] * len(corpus))
    weight = torch.where(y > 0, len(model_levels) / len(corpus), 1.0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**31)))
        critic = _Critic(channels)
    optimizer = torch.optim.Adam(critic.parameters(), lr=LEARNING_RATE)
    from tqdm import tqdm

    for _ in tqdm(range(int(steps)), desc="critic", unit="step", disable=not progress, leave=False):
        index = torch.from_numpy(rng.integers(0, len(x), BATCH_SIZE))
        loss = nn.functional.binary_cross_entropy_with_logits(critic(x[index]), y[index], weight=weight[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    _recalibrate(critic, x)
    return critic.eval()


def logits_of(critic: nn.Module, grids: np.ndarray) -> np.ndarray:
    """The critic's float32 logits of uint8 grids ``(n, H, W)``, in chunks of 2,048."""
    with torch.no_grad():
        x = _tensor(grids)
        return np.concatenate([critic(x[i:i + 2048]).numpy() for i in range(0, len(x), 2048)])


class _OnLevels(nn.Module):
    """The critic on levels as the runtime holds them: 1 = floor, 0 = wall → its ±1 input channel."""

    def __init__(self, critic: nn.Module):
        super().__init__()
        self.critic = critic

    def forward(self, level):
        return self.critic((level * 2.0 - 1.0).unsqueeze(1))


def critic_onnx(critic: nn.Module, height: int, width: int, metadata: dict[str, str], opset: int = 15) -> bytes:
    """The critic as ONNX bytes with ``metadata`` as metadata_props, checked against torch on random levels."""
    import onnx

    buffer = io.BytesIO()
    module = _OnLevels(critic).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(2, height, width),), buffer, input_names=[CRITIC_INPUT],
                          output_names=[CRITIC_OUTPUT], opset_version=opset, dynamo=False,
                          dynamic_axes={CRITIC_INPUT: {0: "batch"}, CRITIC_OUTPUT: {0: "batch"}})
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    from daedalus.runtime.session import onnxruntime

    levels = (np.random.default_rng(0).random((7, height, width)) < 0.5).astype(np.float32)
    session = onnxruntime().InferenceSession(data, providers=["CPUExecutionProvider"])
    (got,) = session.run([CRITIC_OUTPUT], {CRITIC_INPUT: levels})
    with torch.no_grad():
        want = module(torch.from_numpy(levels)).numpy()
    if not np.allclose(got, want, atol=1e-4, rtol=1e-4):
        raise UsageError(f"the exported critic differs from torch by {np.abs(got - want).max():.2e}; nothing written")
    return data


def build_critic(model: str | os.PathLike, data: str | os.PathLike | None, out: str | os.PathLike,
                 steps: int = DEFAULT_STEPS, seed: int = 0, mode: str | None = None, style: str | None = None,
                 threads: int | None = None, progress: bool = False, channels: int = DEFAULT_CHANNELS) -> dict:
    """Train a critic for decoder ``model`` against corpus ``data`` (a dataset npz or a folder of level files; None:
    the training data the model's metadata names, rebuilt as ``daedalus eval`` does) and write it to ``out``
    atomically. Returns its metadata (strings) plus ``train_accuracy``.

    Raises:
        UsageError: a corpus of another size than the decoder's, or a bad step count. ModelError: a bad model.
        CorpusError: a corpus file that does not validate (naming the file and level).
    """
    from daedalus.maze.cli import check_output
    from daedalus.maze.corpus import read_corpus
    from daedalus.maze.symmetry import corpus_symmetries, transform
    from daedalus.runtime import MazeGenerator

    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise UsageError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise UsageError(f"seed must be an integer from 0 to 2**32 - 1, got {seed!r}")
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise UsageError(f"channels must be a positive integer, got {channels!r}")
    out = check_output(out, "--out", (".onnx",))  # before any training: a folder that exists, writable
    if Path(model).exists() and out.exists() and out.resolve() == Path(model).resolve():
        raise UsageError(f"--out {str(out)!r} is the decoder itself; name another file (default: "
                         f"{Path(model).stem}.critic.onnx)")
    generator = MazeGenerator.load(model, device="cpu")
    if data is None:
        if style is not None:
            raise UsageError(f"a critic for style {style!r} needs that style's corpus: pass --data PATH")
        from daedalus.runtime.eval_cli import training_grids

        grids = training_grids(generator.metadata)
        if grids is None:
            raise UsageError(f"the metadata of {str(model)!r} names no training corpus that can be rebuilt (or it "
                             "has moved); pass the corpus as --data PATH")
        where = "the training data its metadata names"
    else:
        grids = read_corpus(data).grids
        where = str(Path(data).resolve())
    if tuple(grids.shape[1:]) != tuple(generator.shape):
        raise UsageError(f"corpus {where!r} holds {grids.shape[1]}x{grids.shape[2]} levels, "
                         f"the model draws {generator.shape[0]}x{generator.shape[1]}")
    mode = generator.mode_for(style) if mode is None else mode
    names = corpus_symmetries(grids)
    views = np.concatenate([transform(grids, name) for name in names])
    views = views[np.random.default_rng(seed).permutation(len(views))[:MAX_VIEWS]]
    count = min(max(len(views), MIN_MODEL_LEVELS), MAX_VIEWS)
    # Codes far from generate's usual 0.. seeds, so that the critic is not fitted to the very levels it scores.
    drawn = [level.grid for level in generator.generate(count, seed=2**52 + seed, mode=mode, style=style)]
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        critic = train_critic(np.stack(drawn), views, steps, seed, progress, channels)
        truth = np.array([0] * len(drawn) + [1] * len(views))
        train_accuracy = float(np.mean((logits_of(critic, np.concatenate([np.stack(drawn), views])) > 0) == truth))
        metadata = {
            "daedalus_critic": CRITIC_FORMAT,
            "height": str(generator.shape[0]),
            "width": str(generator.shape[1]),
            "decoder_sha256": file_digest(generator.path),
            "mode": mode,
            "style": style or "",
            "corpus": json.dumps({"path": where, "levels": len(grids), "symmetries": list(names)}),
            "model_levels": str(len(drawn)),
            "steps": str(int(steps)),
            "channels": str(int(channels)),
            "seed": str(int(seed)),
            "train_accuracy": f"{train_accuracy:.4f}",
        }
        atomic_write(out, critic_onnx(critic, *generator.shape, metadata))
    finally:
        torch.set_num_threads(previous)
    return {**metadata, "train_accuracy": train_accuracy}
