"""Fit the walk temperature of every style of an exported many-style decoder again, against each style's corpus
(``CORPUS_DIR/STYLE.npz``), and rewrite the file's metadata in place (atomically; the graph is unchanged). What
``daedalus export`` does for a run it exports; this is for a file whose run folder is gone (the shipped default:
``python scripts/fit_style_temperatures.py src/daedalus/runtime/models/default.onnx runs/default-model-corpus``, the
corpora of scripts/default_corpus.sh). Its critics must be trained again afterwards (scripts/build_default_critics.sh):
the styles' levels change and so does the file's digest.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import onnx

from daedalus.contract import format_version
from daedalus.export.temperatures import fit_style_temperatures, stderr_progress
from daedalus.files import atomic_write
from daedalus.maze.corpus import read_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("corpora", type=Path, help="a folder of STYLE.npz, one per style")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    proto = onnx.load(str(args.model))
    metadata = {entry.key: entry.value for entry in proto.metadata_props}
    names = [entry["name"] for entry in json.loads(metadata.get("styles", "[]"))]
    if not names:
        raise SystemExit(f"{args.model} has no styles")
    references = {}
    for name in names:
        path = args.corpora / f"{name}.npz"
        if path.exists():
            references[name] = read_corpus(str(path)).grids
        else:
            stderr_progress(f"style {name}: no {path}, kept as it is")
    styles = fit_style_temperatures(proto.SerializeToString(), metadata, references, args.seed,
                                    progress=stderr_progress)
    metadata["styles"] = json.dumps(styles)
    metadata["daedalus_format"] = format_version(metadata.get("decoding", ""), metadata)
    for entry in proto.metadata_props:
        if entry.key in ("styles", "daedalus_format"):
            entry.value = metadata[entry.key]
    atomic_write(args.model, proto.SerializeToString())
    print(f"wrote {args.model}: daedalus_format {metadata['daedalus_format']}, walk temperatures "
          + ", ".join(f"{s['name']} {s['corpus'].get('walk_temperature', 1.0):g}" for s in styles))


if __name__ == "__main__":
    main()
