"""``daedalus export``: a run's decoder to an ONNX file carrying the whole runtime contract in its metadata."""

from __future__ import annotations

import argparse

from daedalus.maze.cli import positive_int


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a trained decoder to ONNX (with its contract in the metadata)",
        description="Export the decoder of a run folder to ONNX: input z float32 [batch, latent_dim], outputs as "
        "its decoding kind defines them (p_open for a threshold decoder, walk scores for a walk decoder; "
        "docs/formats.md). The file is checked (onnx.checker full check; onnxruntime and the ONNX reference "
        "evaluator against torch, and identical levels from both) before it is written. Needs the 'export' extra.",
    )
    parser.add_argument("run", help="run folder written by 'daedalus train'")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--opset", type=int, default=15, help="ONNX opset (default 15: Unity Sentis/Barracuda)")
    parser.add_argument("--quality-samples", dest="quality_samples", type=positive_int, default=1000,
                        help="prior samples scored for the quality metadata (default 1000)")
    parser.add_argument("--prior", choices=("normal", "aggregate"),
                        help="latent prior to record: normal (N(0, I)) or aggregate (a Gaussian fitted to the training "
                        "codes); default: the run's --prior (normal for a VAE; an AE is always fitted)")
    parser.add_argument("--temperature", type=float,
                        help="carve decoders: walk temperature to write (default: the run's)")
    parser.add_argument("--size", help="N or HxW: levels of another size than the training size (a raster decoder "
                        "trained with --cell-decoder shared draws any size)")
    parser.add_argument("--walk-temperatures", dest="walk_temperatures", choices=("fit", "none"), default="fit",
                        help="raster decoders trained on a corpus of at least 150 levels: fit the walk's temperature "
                        "(one per style of a many-style corpus) by the two-sample test against the training levels "
                        "(fit, the default: about 40 s, or 40 s a style) or walk at 1 (none)")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    import json

    from daedalus.errors import UsageError

    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        raise UsageError("daedalus export needs torch and onnx: pip install 'daedalus[export]'") from None
    from daedalus.export.onnx_export import export_decoder

    size = None
    if args.size is not None:
        from daedalus.maze.cli import parse_size

        size = parse_size(args.size)
    meta = export_decoder(args.run, args.out, opset=args.opset, quality_samples=args.quality_samples,
                          prior=args.prior, temperature=args.temperature, size=size,
                          walk_temperatures=args.walk_temperatures)
    quality = json.loads(meta["quality"])
    print(f"wrote {args.out}: {meta.get('decoding', 'threshold')} decoder, opset {args.opset}, z [batch, "
          f"{meta['latent_dim']}], {meta['height']}x{meta['width']} levels, max |onnx - torch| "
          f"{meta['max_abs_diff']:.1e}; prior samples before repair ({quality.get('mode', 'perfect')} mode): perfect "
          f"{quality['perfect']:.3f}, solvable {quality['solvable']:.3f}, loops {quality['loops']:.2f}, dead ends "
          f"{quality['dead_ends']:.1f}"
          + (f", open fraction {quality['open_fraction']:.3f} (closed cells: perfect counts levels with every cell "
             f"open)" if meta.get("closed_cells") == "learned" else ""))
    return 0
