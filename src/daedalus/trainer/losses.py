"""Loss parts, each per sample, so that reconstruction and KL can be logged separately.

The KL term uses the standard reparameterisation: the encoder emits ``log σ²`` (``logvar``), ``σ = exp(½ logvar)``,
and the closed-form ``KL(N(μ, σ²) ‖ N(0, 1)) = ½ Σ (μ² + σ² − 1 − log σ²)``.

The seed differs: it takes ``σ = exp(logvar)`` when sampling (so its network is really emitting ``log σ``) and then
writes ``log σ`` in the KL as though ``logvar`` were ``log σ``. Its two halves disagree about what the encoder's
second head means, so the KL it minimises is not the KL of the posterior it samples from. We do not reproduce that.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

RECONSTRUCTIONS = ("sse", "bce")


def reconstruction(logits: torch.Tensor, target: torch.Tensor, kind: str = "sse") -> torch.Tensor:
    """Per-sample reconstruction loss, summed over positions.

    Args:
        logits: ``[B, K]`` decoder logits (before the sigmoid).
        target: ``[B, K]`` values in ``[0, 1]``.
        kind: ``"sse"`` (the seed's summed squared error of the probabilities) or ``"bce"`` (Bernoulli
            cross-entropy, computed from logits for stability).

    Returns:
        ``[B]`` losses.
    """
    if kind == "sse":
        return ((torch.sigmoid(logits) - target) ** 2).sum(dim=1)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(dim=1)
    raise ValueError(f"unknown reconstruction loss {kind!r}, expected one of {', '.join(RECONSTRUCTIONS)}")


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor, per_dim: bool = False) -> torch.Tensor:
    """Per-sample ``KL(N(μ, diag(exp(logvar))) ‖ N(0, I))``: ``[B, D]`` → ``[B]`` (``[B, D]``, one term per latent
    dimension, with ``per_dim``)."""
    terms = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
    return terms if per_dim else terms.sum(dim=1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``z = μ + σ ε`` with ``σ = exp(½ logvar)`` and ``ε ~ N(0, I)``."""
    eps = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device, generator=generator)
    return mu + torch.exp(0.5 * logvar) * eps
