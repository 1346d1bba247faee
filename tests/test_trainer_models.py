"""Models, loss parts and the KL against closed-form values."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from daedalus.contract import output_names
from daedalus.errors import UsageError
from daedalus.maze import backtracker_batch, grid_to_links, is_perfect, links_to_grid
from daedalus.trainer.losses import kl_divergence, reconstruction, reparameterize
from daedalus.trainer.models import MODELS, build_model, model_config


def test_kl_matches_closed_form_for_one_dimension():
    # KL(N(mu, s^2) || N(0, 1)) = log(1/s) + (s^2 + mu^2) / 2 - 1/2
    mu, sigma = 0.7, 1.9
    expected = math.log(1 / sigma) + (sigma**2 + mu**2) / 2 - 0.5
    got = kl_divergence(torch.tensor([[mu]]), torch.tensor([[2 * math.log(sigma)]]))
    assert got.item() == pytest.approx(expected, rel=1e-6)


@given(st.lists(st.floats(-3, 3), min_size=1, max_size=6), st.floats(-2, 2))
@settings(max_examples=50, deadline=None)
def test_kl_matches_torch_distributions(mus, logvar):
    mu = torch.tensor([mus], dtype=torch.float64)
    lv = torch.full_like(mu, logvar)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * lv))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p).sum(dim=1)
    assert torch.allclose(kl_divergence(mu, lv), expected, atol=1e-9)


def test_kl_is_zero_at_the_prior():
    assert kl_divergence(torch.zeros(4, 3), torch.zeros(4, 3)).abs().max().item() == 0.0


def test_reparameterize_uses_half_logvar():
    torch.manual_seed(0)
    mu, logvar = torch.full((200_000, 1), 1.5), torch.full((200_000, 1), math.log(4.0))
    z = reparameterize(mu, logvar)
    assert z.mean().item() == pytest.approx(1.5, abs=0.02)
    assert z.std().item() == pytest.approx(2.0, abs=0.02)  # sigma = exp(log 4 / 2) = 2, not 4


def test_reconstruction_losses_per_sample():
    logits = torch.tensor([[0.0, 0.0], [10.0, -10.0]])
    target = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    sse = reconstruction(logits, target, "sse")
    assert sse.shape == (2,)
    assert sse[0].item() == pytest.approx(0.5)
    bce = reconstruction(logits, target, "bce")
    assert bce[0].item() == pytest.approx(2 * math.log(2), rel=1e-6)
    assert bce[1].item() < 1e-3
    with pytest.raises(ValueError):
        reconstruction(logits, target, "l1")


def test_seed_models_have_the_seed_shape():
    for name in ("seed-ae", "seed-vae"):
        model = build_model(model_config(name, 28, 28))
        assert model.latent_dim == 2 and model.hidden == [512]
        assert model.encoder[0].in_features == 784 and model.decoder[-1].out_features == 784
    vae = build_model(model_config("seed-vae", 28, 28))
    assert vae.fc_logvar is not None and build_model(model_config("seed-ae", 28, 28)).fc_logvar is None


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("shape", [(28, 28), (10, 16)])
def test_every_model_has_the_one_interface(name, shape):
    # What the training loop, the figures and the exporter call, whatever the kind.
    torch.manual_seed(1)
    model = build_model(model_config(name, *shape)).eval()
    code = torch.randn(5, model.latent_dim) * 3
    with torch.no_grad():
        image = model.preview(code)
    assert image.shape == (5, *shape) and image.dtype == torch.float32
    assert (image >= 0).all() and (image <= 1).all()
    grids = model.sample_grids(code.numpy(), np.random.default_rng(2))
    assert grids.shape == (5, *shape) and grids.dtype == np.uint8 and set(np.unique(grids)) <= {0, 1}
    again = model.sample_grids(code.numpy(), np.random.default_rng(2))
    assert np.array_equal(grids, again), "the same codes and rng must give the same levels"
    assert model.sample_grids(code.numpy()[:0], np.random.default_rng(2)).shape == (0, *shape)
    # The exported graph: z of input_dim (the code, plus a walk's noise) to the contract's outputs for the kind.
    assert model.input_dim >= model.latent_dim
    meta = model.export_metadata()
    assert meta["decoding"] == model.DECODING and all(isinstance(v, str) for v in meta.values())
    with torch.no_grad():
        outputs = model.export_outputs(torch.randn(3, model.input_dim))
    assert len(outputs) == len(output_names(model.DECODING, meta))
    assert all(t.dtype == torch.float32 and torch.isfinite(t).all() for t in outputs)


@pytest.mark.parametrize("name", ["carve", "raster"])
@pytest.mark.parametrize("shape", [(28, 28), (10, 16), (4, 6)])
def test_walk_models_sample_perfect_mazes_even_untrained(name, shape):
    torch.manual_seed(3)
    model = build_model(model_config(name, *shape, latent_dim=4, hidden=[16])).eval()
    grids = model.sample_grids(np.random.default_rng(0).standard_normal((20, 4)) * 3, np.random.default_rng(1))
    assert is_perfect(grids).all()
    assert len({g.tobytes() for g in grids}) > 1, "the walk's noise must vary the levels"


@given(st.integers(0, 10_000), st.sampled_from([(28, 28), (8, 12), (14, 6)]))
@settings(max_examples=20, deadline=None)
def test_link_model_keeps_the_lattice(seed, shape):
    torch.manual_seed(seed)
    model = build_model(model_config("link-vae", *shape, latent_dim=4, hidden=[16])).eval()
    z = torch.randn(3, 4)
    with torch.no_grad():
        p = model.decode(z).numpy()
        links = torch.sigmoid(model.decode_logits(z)).numpy()
    # Cells 1, fixed walls 0, links where links_to_grid puts them.
    np.testing.assert_allclose(p, links_to_grid(links, shape), atol=0)
    grids = backtracker_batch(3, *shape, rng=seed)
    np.testing.assert_array_equal(model.target(torch.from_numpy(grids)).numpy(), grid_to_links(grids))


def test_bad_model_arguments():
    with pytest.raises(UsageError, match="unknown model"):
        model_config("transformer", 28, 28)
    with pytest.raises(UsageError, match="latent_dim"):
        build_model(model_config("seed-vae", 28, 28, latent_dim=0))
    with pytest.raises(UsageError, match="kind"):
        build_model({"kind": "gan", "latent_dim": 2})
