"""Importance resampling by a critic (daedalus.runtime.resample, daedalus.trainer.critic): the choice is a pure
function of the level code, the kept level is one of its candidates and rebuilds from its z, the critic file is
the torch critic, and a critic for another decoder, mode or size is refused."""

import json

import numpy as np
import pytest
import torch

from daedalus.cli import main
from daedalus.errors import ModelError, UsageError
from daedalus.maze.generators import generate_batch
from daedalus.runtime import MazeGenerator
from daedalus.runtime.levelcode import latents_of
from daedalus.runtime.resample import Critic, candidate_codes, check_resample, choice_uniforms, choose


@pytest.fixture(scope="module")
def prim_corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "prim.npz"
    assert main(["dataset", "--generator", "prim", "--count", "120", "--seed", "3", "--out", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def critic_path(decoder_path, prim_corpus):
    from daedalus.trainer.critic import build_critic

    path = decoder_path.with_name("decoder.critic.onnx")
    meta = build_critic(decoder_path, prim_corpus, path, steps=60, seed=0, threads=2)
    assert meta["train_accuracy"] > 0.9  # a threshold decoder fitted to backtrackers is easy to tell from Prim
    return path


@pytest.fixture(scope="module")
def resampler(decoder_path, critic_path):
    return MazeGenerator.load(decoder_path, device="cpu", critic=critic_path)


def test_candidate_codes_start_with_the_level_code_and_depend_on_it_alone():
    codes = np.array([0, 1, 2**64 - 1, 12345], dtype=np.uint64)
    table = candidate_codes(codes, 5)
    assert table.shape == (4, 5) and table.dtype == np.uint64
    assert np.array_equal(table[:, 0], codes)
    assert np.array_equal(candidate_codes(codes[2:3], 5), table[2:3])  # a row does not depend on its neighbours
    assert np.array_equal(candidate_codes(codes, 3), table[:, :3])  # K only cuts the row
    assert len(np.unique(table)) == table.size  # no two candidates share a code
    u = choice_uniforms(codes)
    assert u.dtype == np.float64 and ((0 <= u) & (u < 1)).all() and len(np.unique(u)) == 4


def test_choose_keeps_a_candidate_in_proportion_to_exp_logit():
    n = 4000
    uniforms = (np.arange(n) + 0.5) / n
    logits = np.tile(np.log([1.0, 3.0, 0.0 + 1e-30, 4.0]).astype(np.float32), (n, 1))
    kept = choose(logits, uniforms)
    counts = np.bincount(kept, minlength=4) / n
    assert np.allclose(counts, [0.125, 0.375, 0.0, 0.5], atol=1e-3)
    assert choose(np.array([[5.0, 5.0]], dtype=np.float32), np.array([0.4999]))[0] == 0
    assert choose(np.array([[5.0, 5.0]], dtype=np.float32), np.array([0.5001]))[0] == 1
    with pytest.raises(ModelError, match="NaN"):
        choose(np.array([[np.nan, 0.0]], dtype=np.float32), np.array([0.5]))


@pytest.mark.parametrize("bad", [0, 65, True, 2.0, "4"])
def test_a_bad_candidate_count_is_refused_by_name(bad):
    with pytest.raises(UsageError, match="resample must be an integer from 1 to 64"):
        check_resample(bad)


@pytest.mark.parametrize("channels", [32, 8])
def test_the_critic_file_gives_the_torch_critic_logits(tmp_path, channels):
    from daedalus.trainer.critic import _OnLevels, critic_onnx, train_critic

    rng = np.random.default_rng(0)
    a = generate_batch("prim", 40, 12, 12, rng)
    b = generate_batch("backtracker", 40, 12, 12, rng)
    critic = train_critic(a, b, steps=20, seed=1, channels=channels)
    assert critic.features[0].out_channels == channels
    path = tmp_path / "c.onnx"
    path.write_bytes(critic_onnx(critic, 12, 12, {"daedalus_critic": "1", "height": "12", "width": "12",
                                                      "mode": "perfect"}))
    levels = np.concatenate([a[:5], b[:5]])
    with torch.no_grad():
        want = _OnLevels(critic)(torch.from_numpy(levels.astype(np.float32))).numpy()
    got = Critic.load(path).logits(levels)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_each_kept_level_is_one_of_its_candidates_and_rebuilds_from_its_z(resampler, generator):
    levels = resampler.generate(12, seed=9, resample=4)
    codes = np.arange(12, dtype=np.uint64) + np.uint64(9)
    candidates = latents_of(candidate_codes(codes, 4).reshape(-1), resampler.latent_dim,
                            resampler.info.prior_mean, resampler.info.prior_scale_tril).reshape(12, 4, -1)
    picks = []
    for i, level in enumerate(levels):
        matches = [j for j in range(4) if np.array_equal(candidates[i, j], level.z)]
        assert len(matches) == 1
        picks.append(matches[0])
        assert np.array_equal(generator.from_latents(level.z).grid, level.grid)
    assert len(set(picks)) > 1  # the critic does choose, not always the first candidate


def test_resampled_levels_do_not_depend_on_the_count_or_the_slicing(resampler):
    many = resampler.generate(300, seed=4, resample=3)  # more than one pipeline slice
    few = resampler.generate(7, seed=4, resample=3)
    assert all(np.array_equal(a.grid, b.grid) for a, b in zip(many, few))
    later = resampler.generate(5, seed=4 + 200, resample=3)
    assert all(np.array_equal(a.grid, b.grid) for a, b in zip(many[200:], later))


def test_resample_1_is_the_plain_generator(resampler, generator):
    plain, one = generator.generate(20, seed=5), resampler.generate(20, seed=5, resample=1)
    assert all(np.array_equal(a.grid, b.grid) for a, b in zip(plain, one))


def test_kept_levels_score_higher_with_the_critic_than_plain_ones(resampler, generator):
    plain = np.stack([level.grid for level in generator.generate(400, seed=11)])
    kept = np.stack([level.grid for level in resampler.generate(400, seed=11, resample=8)])
    assert resampler.critic.logits(kept).mean() > resampler.critic.logits(plain).mean() + 0.5


def test_resampling_without_a_critic_or_with_the_wrong_one_is_refused(generator, resampler, decoder_path,
                                                                      critic_path, tmp_path):
    with pytest.raises(UsageError, match="needs a critic"):
        generator.generate(3, seed=0, resample=2)
    with pytest.raises(UsageError, match="trained on perfect levels, got mode 'braid'"):
        resampler.generate(3, seed=0, mode="braid", resample=2)
    with pytest.raises(UsageError, match="targets and resample"):
        resampler.generate(1, seed=0, targets={"dead_ends": 30}, resample=2)
    other = tmp_path / "other.onnx"
    other.write_bytes(decoder_path.read_bytes() + b"")  # the same bytes: the same decoder, accepted
    MazeGenerator.load(other, device="cpu", critic=critic_path)
    import onnx

    proto = onnx.load(str(decoder_path))
    proto.doc_string = "another decoder"
    onnx.save(proto, str(other))
    with pytest.raises(UsageError, match="another decoder"):
        MazeGenerator.load(other, device="cpu", critic=critic_path)
    with pytest.raises(ModelError, match="not a Daedalus critic"):
        MazeGenerator.load(decoder_path, device="cpu", critic=decoder_path)


def test_a_corpus_of_another_size_writes_no_critic(decoder_path, tmp_path):
    from daedalus.trainer.critic import build_critic

    corpus = tmp_path / "small.npz"
    assert main(["dataset", "--count", "30", "--size", "12", "--out", str(corpus)]) == 0
    out = tmp_path / "c.onnx"
    with pytest.raises(UsageError, match="12x12 levels, the model draws 28x28"):
        build_critic(decoder_path, corpus, out, steps=5)
    assert not out.exists()


def test_the_command_line_resamples_as_the_library_does(resampler, decoder_path, critic_path, tmp_path, capsys):
    out = tmp_path / "levels.npz"
    assert main(["generate", "--model", str(decoder_path), "--critic", str(critic_path), "--resample", "4",
                 "--count", "10", "--seed", "2", "--format", "npz", "--out", str(out)]) == 0
    with np.load(out) as saved:
        want = np.stack([level.grid for level in resampler.generate(10, seed=2, resample=4)])
        assert np.array_equal(saved["grids"], want)
    with pytest.raises(SystemExit) as stopped:
        main(["generate", "--model", str(decoder_path), "--resample", "0", "--count", "1", "--format", "npz",
              "--out", str(tmp_path / "x.npz")])
    assert stopped.value.code == 2
    assert "expected an integer from 1 to 64, got '0'" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_eval_measures_the_resampled_levels(decoder_path, critic_path, prim_corpus, capsys):
    common = ["eval", "--model", str(decoder_path), "--data", str(prim_corpus), "--samples", "64", "--json",
              "--no-untrained", "--no-two-sample"]
    assert main(common) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main([*common, "--critic", str(critic_path), "--resample", "8"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert kept["resample"] == 8 and plain["resample"] == 1
    assert kept["style"]["w_dead_ends"] != plain["style"]["w_dead_ends"]
    assert main([*common, "--resample", "8"]) == 0  # the critic beside the model, decoder.critic.onnx
    assert json.loads(capsys.readouterr().out)["style"] == kept["style"]


def test_without_a_critic_beside_it_resampling_is_refused(decoder_path, tmp_path, capsys):
    alone = tmp_path / "alone.onnx"
    alone.write_bytes(decoder_path.read_bytes())
    assert main(["generate", "--model", str(alone), "--resample", "2", "--count", "1", "--format", "npz",
                 "--out", str(tmp_path / "x.npz")]) == 2
    assert "resample=2 needs a critic" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_the_documented_vectors():
    codes = np.array([0, 1, 12345], dtype=np.uint64)
    table = candidate_codes(codes, 3)
    assert [hex(int(x)) for x in table[:, 1]] == ["0x8209b480faed1b11", "0x1d60447fea35414", "0xaeed712506177c47"]
    assert [hex(int(x)) for x in table[:, 2]] == ["0x8209b480faed1b12", "0x1d60447fea35415", "0xaeed712506177c48"]
    assert choice_uniforms(codes).tolist() == [0.3481516471005235, 0.12152772785073929, 0.1255574023597683]


def test_a_resampled_level_says_so_in_its_json_and_reads_back(resampler, generator):
    from daedalus.runtime import Level

    level = resampler.generate(1, seed=21, resample=4)[0]
    assert level.resample == 4 and generator.generate(1, seed=21)[0].resample is None
    back = Level.from_json(level.to_json())
    assert back.resample == 4 and np.array_equal(back.z, level.z)
    assert "resample" not in json.loads(generator.generate(1, seed=21)[0].to_json())
    with pytest.raises(UsageError, match="resample must be a positive integer or absent, got 0"):
        Level.from_dict({**level.to_dict(), "resample": 0})


def test_one_critic_per_style_is_chosen_by_the_style(tmp_path):
    """A many-style decoder with critics for two of its styles: each style resamples with its own; a third style
    and a duplicate are refused by name."""
    from daedalus.runtime import DEFAULT_MODEL
    from daedalus.runtime.resample import critic_files
    from daedalus.trainer.critic import build_critic

    plain = MazeGenerator.load(DEFAULT_MODEL, device="cpu")
    first, second, third = plain.styles[:3]
    corpus = tmp_path / "prim.npz"
    assert main(["dataset", "--generator", "prim", "--count", "40", "--out", str(corpus)]) == 0
    model = tmp_path / "m.onnx"
    model.write_bytes(DEFAULT_MODEL.read_bytes())
    for style in (first, second):
        build_critic(model, corpus, tmp_path / f"m.{style}.critic.onnx", steps=10, style=style, threads=2)
    files = critic_files(model)
    assert [p.name for p in files] == sorted(f"m.{s}.critic.onnx" for s in (first, second))
    both = MazeGenerator.load(model, device="cpu", critic=files)
    assert set(both.critics) == {first, second} and both.critic is None
    for style in (first, second):
        mode = both.critics[style].mode
        level = both.generate(1, seed=3, style=style, mode=mode, resample=4)[0]
        assert level.resample == 4 and np.array_equal(plain.from_latents(level.z, mode, style).grid, level.grid)
    with pytest.raises(UsageError, match=f"needs a critic for style '{third}'"):
        both.generate(1, seed=3, style=third, resample=4)
    with pytest.raises(UsageError, match=f"two critics for style '{first}'"):
        MazeGenerator.load(model, device="cpu", critic=[files[0], files[0]])


def test_info_lists_the_critics_beside_the_model(decoder_path, critic_path, capsys):
    assert main(["info", "--model", str(decoder_path), "--json"]) == 0
    critics = json.loads(capsys.readouterr().out)["critics"]
    assert {"path": str(critic_path), "style": None, "mode": "perfect", "usable": True, "problem": None} in critics
    assert main(["info", "--model", str(decoder_path)]) == 0
    assert f"critic for --resample: {critic_path} (style (the prior), perfect levels)" in capsys.readouterr().out


def test_the_shipped_decoder_ships_one_critic_per_style():
    from daedalus.runtime import DEFAULT_MODEL
    from daedalus.runtime.resample import critic_files

    generator = MazeGenerator.load(critic=critic_files(DEFAULT_MODEL))  # each checked against default.onnx's sha256
    assert set(generator.critics) == set(generator.styles)
    for style, critic in generator.critics.items():
        assert critic.mode == generator.mode_for(style), style
    level = generator.generate(1, seed=5, style="prim", resample=4)[0]
    assert level.resample == 4


def test_without_data_the_critic_learns_the_training_data_the_metadata_names(decoder_path, tmp_path, capsys):
    from daedalus.runtime.eval_cli import training_grids

    out = tmp_path / "c.onnx"
    assert main(["critic", "--model", str(decoder_path), "--out", str(out), "--steps", "5", "--threads", "2"]) == 0
    corpus = json.loads(Critic.load(out).metadata["corpus"])
    assert corpus["path"] == "the training data its metadata names"
    assert corpus["levels"] == len(training_grids(MazeGenerator.load(decoder_path).metadata))
    capsys.readouterr()
    assert main(["critic", "--model", str(decoder_path), "--style", "prim", "--out", str(tmp_path / "d.onnx")]) == 2
    assert "needs that style's corpus: pass --data PATH" in capsys.readouterr().err
    assert not (tmp_path / "d.onnx").exists()


@pytest.mark.parametrize("content", [b"", b"not an onnx file", None])
def test_a_broken_critic_file_is_refused_by_name(critic_path, tmp_path, content):
    bad = tmp_path / "bad.critic.onnx"
    bad.write_bytes(critic_path.read_bytes()[:200] if content is None else content)  # None: truncated
    with pytest.raises(ModelError, match="bad.critic.onnx"):
        Critic.load(bad)
    with pytest.raises(ModelError, match="critic file .*missing.onnx' does not exist"):
        Critic.load(tmp_path / "missing.onnx")


def test_review_fixes_refusals_before_any_work(decoder_path, critic_path, prim_corpus, tmp_path, capsys):
    from daedalus.runtime.resample import critic_files
    from daedalus.trainer.critic import build_critic

    with pytest.raises(UsageError, match="folder .* does not exist"):
        build_critic(decoder_path, prim_corpus, tmp_path / "no" / "c.onnx", steps=5)
    with pytest.raises(UsageError, match="is the decoder itself"):
        build_critic(decoder_path, prim_corpus, decoder_path, steps=5)
    with pytest.raises(UsageError, match="seed must be an integer from 0"):
        build_critic(decoder_path, prim_corpus, tmp_path / "c.onnx", steps=5, seed=-1)
    with pytest.raises(UsageError, match="critic must be a path, a list of paths or None, got 3"):
        MazeGenerator.load(decoder_path, device="cpu", critic=3)
    assert main(["eval", "--model", str(decoder_path), "--critic", "2", "--samples", "8", "--no-untrained"]) == 2
    assert "for N two-sample critics, the option is --critics 2" in capsys.readouterr().err
    # Another decoder's critic beside this one (m.small.critic.onnx for m.small.onnx) is not taken for its own.
    model = tmp_path / "m.onnx"
    model.write_bytes(decoder_path.read_bytes())
    (tmp_path / "m.small.critic.onnx").write_bytes(critic_path.read_bytes())
    import onnx

    proto = onnx.load(str(model))
    proto.doc_string = "m itself"
    onnx.save(proto, str(model))
    assert critic_files(model) == [] and critic_files(model, matching=False) == [tmp_path / "m.small.critic.onnx"]


def test_the_npz_records_the_resampling(decoder_path, critic_path, tmp_path):
    for k in (1, 3):
        out = tmp_path / f"k{k}.npz"
        assert main(["generate", "--model", str(decoder_path), "--critic", str(critic_path), "--resample", str(k),
                     "--count", "4", "--seed", "1", "--format", "npz", "--out", str(out)]) == 0
        with np.load(out) as saved:
            assert int(saved["resample"]) == k
