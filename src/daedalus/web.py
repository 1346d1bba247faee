"""``daedalus web``: serve the browser game (the repository's ``web/`` folder) on this machine.

The page (web/index.html and its ES modules) needs three things from the server: its own files, onnxruntime-web's
``dist`` files (installed by ``npm ci`` in ``web/``) under ``/ort/``, and the decoder under ``/model.onnx`` (with
``--critic``, a critic under ``/critic.onnx``). Standard library only; it binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
from pathlib import Path

from daedalus.errors import UsageError

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
ORT_DIST = Path("node_modules") / "onnxruntime-web" / "dist"
TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
         ".onnx": "application/octet-stream", ".html": "text/html; charset=utf-8"}


def register(subparsers) -> None:
    web = subparsers.add_parser(
        "web",
        help="serve the browser game (onnxruntime-web) on http://127.0.0.1:PORT/",
        description="Serve web/: the chase in a browser, the shipped ONNX decoder run by onnxruntime-web (WASM), "
        "the level code and the raster walk in JavaScript. /?code=C&mode=perfect|braid&export=1 writes the text "
        "form of level code C into <pre id=\"level-text\">. Needs 'npm ci' in web/ once.",
    )
    web.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 picks a free one)")
    web.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    web.add_argument("--model", help="decoder .onnx file (default: the shipped model)")
    web.add_argument("--dir", default=None, help="the web/ folder (default: the checkout's)")
    web.add_argument("--critic", help="a critic file for the model ('daedalus critic'), served as /critic.onnx for "
                     "/?resample=K (each level the critic's choice of K candidate walks)")
    web.set_defaults(func=run_web)


def web_root(folder: str | os.PathLike | None = None) -> Path:
    """The web/ folder, checked: index.html there and onnxruntime-web installed. Raises UsageError saying what to
    do."""
    root = Path(folder) if folder is not None else WEB_DIR
    if not (root / "index.html").is_file():
        raise UsageError(f"no web page at {str(root)!r} (web/index.html of a Daedalus checkout); pass --dir")
    if not (root / ORT_DIST / "ort.wasm.min.mjs").is_file():
        raise UsageError(f"onnxruntime-web is not installed in {str(root)!r}: run 'npm ci' there first")
    return root


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files: ``/ort/...`` from onnxruntime-web's dist, ``/model.onnx`` the decoder, the rest from web/."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def __init__(self, *args, root: Path, model: Path, critic: Path | None = None, **kwargs):
        self.root, self.model, self.critic = root, model, critic
        super().__init__(*args, directory=str(root), **kwargs)

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if clean == "/model.onnx":
            return str(self.model)
        if clean == "/critic.onnx":
            return str(self.critic if self.critic is not None else self.root / "missing")
        if clean.startswith("/ort/"):
            name = Path(clean[len("/ort/"):]).name  # one file of dist, nothing above it
            return str(self.root / ORT_DIST / name)
        if clean.startswith("/node_modules/"):
            return str(self.root / "missing")
        return super().translate_path(path)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_request(self, code="-", size="-") -> None:  # quiet: failed requests only
        if str(code).isdigit() and int(code) >= 400:
            super().log_request(code, size)


def make_server(port: int = 8000, host: str = "127.0.0.1", model=None, folder=None,
                critic=None) -> http.server.HTTPServer:
    """A threading HTTP server for the page (not started). ``port`` 0 picks a free port (``server.server_port``);
    ``critic``: a critic file served as ``/critic.onnx``."""
    from daedalus.runtime.session import model_path, read_decoder

    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError(f"port must be an integer in 0..65535, got {port!r}")
    root = web_root(folder)
    model = Path(model_path(model))
    if not model.is_file():
        raise UsageError(f"model file {str(model)!r} does not exist")
    read_decoder(model)  # a file that is not a decoder is refused here, not in the browser
    if critic is not None and not Path(critic).is_file():
        raise UsageError(f"critic file {str(critic)!r} does not exist")
    handler = functools.partial(Handler, root=root, model=model.resolve(),
                                critic=None if critic is None else Path(critic).resolve())
    try:
        return http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as error:
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror}") from None


def run_web(args: argparse.Namespace) -> int:
    server = make_server(args.port, args.host, args.model, args.dir, args.critic)
    host, port = server.server_address[:2]
    print(f"daedalus web: serving {server.RequestHandlerClass.keywords['root']} on http://{host}:{port}/ "
          "(Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
