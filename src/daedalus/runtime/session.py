"""Opening a decoder: the model file checked before onnxruntime sees it, the execution providers chosen, the
session made, and the contract read (``daedalus.contract``). Every onnxruntime error is re-raised as the library's
own, naming the file. The pipeline that uses the session is ``daedalus.runtime.generator``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

from daedalus.contract import MIN_OPSET, ModelInfo, read_contract
from daedalus.errors import DeviceError, MissingExtraError, ModelError, UsageError
from daedalus.runtime.onnxfile import OnnxInfo, inspect_onnx, without_outputs

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "default.onnx"
DEVICES = ("auto", "cpu", "cuda")
CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


def onnxruntime():
    """The ``onnxruntime`` module, imported on first use so that a missing runtime is one clear line, not a traceback
    at ``import daedalus``.

    Raises:
        MissingExtraError: naming the extras to install (``cpu`` or ``gpu``, never both).
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingExtraError("onnxruntime is not installed: pip install 'daedalus[cpu]' (or 'daedalus[gpu]' for "
                                "CUDA; never both)") from None
    return ort


def installed_runtimes() -> list[str]:
    """Which onnxruntime distributions are installed (they share one import name and must not be mixed)."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("onnxruntime", "onnxruntime-gpu"):
        try:
            version(name)
            found.append(name)
        except PackageNotFoundError:
            pass
    return found


def warn_if_both_runtimes() -> None:
    if len(installed_runtimes()) == 2:
        warnings.warn(
            "both onnxruntime and onnxruntime-gpu are installed; they share the import name and one silently "
            "shadows the other. Keep one: 'pip uninstall -y onnxruntime onnxruntime-gpu' then "
            "'pip install onnxruntime-gpu' (GPU) or 'pip install onnxruntime' (CPU).",
            RuntimeWarning,
            stacklevel=3,
        )


def choose_providers(device: str = "auto", providers: Sequence | None = None) -> list:
    """The execution providers to ask onnxruntime for. An explicit ``providers`` list wins; otherwise CUDA first
    when asked for (``"cuda"``) or offered (``"auto"``), CPU always last.

    Raises:
        UsageError: for an unknown device. DeviceError: for ``"cuda"`` when onnxruntime offers no CUDA provider.
    """
    if providers is not None:
        providers = list(providers)
        if not providers:
            raise UsageError("providers must name at least one onnxruntime execution provider, got []")
        return providers
    if device not in DEVICES:
        raise UsageError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    available = onnxruntime().get_available_providers()
    if device == "cuda":
        if CUDA not in available:
            raise DeviceError(
                f"device 'cuda' asked for, but this onnxruntime offers only {', '.join(available)}. Install "
                "onnxruntime-gpu (what the daedalus[gpu] extra names), which replaces onnxruntime: "
                "'pip uninstall -y onnxruntime && pip install onnxruntime-gpu' (never both; see docs/runtime.md)"
            )
        return [CUDA, CPU]
    if device == "auto" and CUDA in available:
        return [CUDA, CPU]
    return [CPU]


def _read_file(path: Path) -> bytes:
    if not path.exists():
        raise ModelError(f"model file {str(path)!r} does not exist")
    if not path.is_file():
        raise ModelError(f"model path {str(path)!r} is not a file")
    try:
        return path.read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read model file {str(path)!r}: {error.strerror}") from None


def model_path(path) -> Path:
    """The file to load: ``path``, or the shipped default when None."""
    if path is None:
        if not DEFAULT_MODEL.is_file():
            raise ModelError(f"no default model is shipped at {str(DEFAULT_MODEL)!r}; pass a decoder exported with "
                             "'daedalus export' (--model PATH, or MazeGenerator.load(path))")
        return DEFAULT_MODEL
    return Path(path)


def read_decoder(path: Path) -> tuple[bytes, OnnxInfo, ModelInfo]:
    """A decoder file's bytes, what its ONNX container holds and its contract, checked without onnxruntime (what
    ``daedalus web`` serves is checked this way too).

    Raises:
        ModelError: the file is missing, not ONNX, keeps tensors in external data or is not a Daedalus decoder.
    """
    source = f"model {str(path)!r}"
    data = _read_file(path)
    onnx = inspect_onnx(data, source)
    if onnx.external_tensors:
        raise ModelError(f"{source} keeps tensors in external data ({', '.join(onnx.external_tensors[:3])}); "
                         "expected one self-contained file (export without external data)")
    return data, onnx, read_contract(onnx.metadata, source)


def open_session(path: Path, device: str = "auto", providers: Sequence | None = None,
                 threads: int | None = 1) -> tuple["onnxruntime.InferenceSession", ModelInfo]:
    """Check ``path`` and open it: ``(session, contract)``.

    Raises:
        ModelError: the file is missing, not ONNX, uses external data or an opset this onnxruntime lacks, or is
            not a Daedalus decoder. DeviceError: CUDA asked for and unavailable.
    """
    ort = onnxruntime()
    warn_if_both_runtimes()
    source = f"model {str(path)!r}"
    data, onnx, info = read_decoder(path)
    opset = onnx.default_opset
    if opset is None or opset < MIN_OPSET:
        raise ModelError(f"{source} uses ai.onnx opset {opset}, expected {MIN_OPSET} or newer (the oldest "
                         f"onnxruntime {ort.__version__} supports)")
    chosen = choose_providers(device, providers)
    try:
        session = ort.InferenceSession(data, sess_options=session_options(threads), providers=chosen)
    except Exception as error:  # onnxruntime raises its own pybind exception types
        text = str(error).strip().splitlines()[0]
        if "ValidateOpsetForDomain" in text or "opset" in text.lower():
            raise ModelError(f"{source} uses ai.onnx opset {opset}, which onnxruntime {ort.__version__} does "
                             f"not support (expected {MIN_OPSET} up to what this onnxruntime knows; export with "
                             "a lower opset or upgrade onnxruntime)") from None
        raise ModelError(f"onnxruntime cannot load {source}: {text}") from None
    got = session.get_providers()
    if device == "cuda" and providers is None and got[0] != CUDA:
        raise DeviceError(f"device 'cuda' asked for, but onnxruntime fell back to {got[0]} (CUDA or cuDNN "
                          "libraries missing?); install the gpu extra and a matching CUDA, or use device='cpu'")
    return session, info


def session_options(threads: int | None):
    """onnxruntime session options as the runtime uses them: errors only in the log, ``threads`` intra-op threads
    (None: onnxruntime's default)."""
    options = onnxruntime().SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    return options


def check_signature(session, info: ModelInfo, shapes: list[tuple], source: str) -> None:
    """The graph's input and outputs against the contract: one float input ``z`` of width ``latent_dim``, the outputs
    the ``decoding`` names, in order, with the shapes its decoding class gives (``None`` = the batch axis).

    Raises:
        ModelError: naming the input or output and what was expected.
    """
    from daedalus.contract import INPUT_NAME

    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        raise ModelError(f"{source} is not a Daedalus decoder: inputs {[i.name for i in inputs]}, expected ['z']")
    if [o.name for o in outputs] != list(info.outputs):
        raise ModelError(f"{source} is not a Daedalus decoder: outputs {[o.name for o in outputs]}, "
                         f"expected {list(info.outputs)} (metadata decoding={info.decoding!r})")
    z = inputs[0]
    # A dim is an int when fixed, a str or None when symbolic; only a fixed wrong width is an error here.
    width_wrong = len(z.shape) == 2 and isinstance(z.shape[1], int) and z.shape[1] != info.latent_dim
    if z.type != "tensor(float)" or len(z.shape) != 2 or width_wrong:
        raise ModelError(f"{source}: input z is {z.type} {z.shape}, expected tensor(float) "
                         f"[batch, {info.latent_dim}]")
    for output, shape in zip(outputs, shapes):
        fixed = [(got, want) for got, want in zip(output.shape, shape) if isinstance(got, int) and want]
        if output.type != "tensor(float)" or len(output.shape) != len(shape) or any(
                got != want for got, want in fixed):
            expected = ", ".join("batch" if d is None else str(d) for d in shape)
            raise ModelError(f"{source}: output {output.name} is {output.type} {output.shape}, expected "
                             f"tensor(float) [{expected}] as its metadata says")


def session_without_outputs(session, path: Path, names: set[str]):
    """A session like ``session`` (same options and providers) over ``path``'s graph less the outputs ``names``
    and the nodes only they need (``onnxfile.without_outputs``); the original session when that fails."""
    ort = onnxruntime()
    try:
        data = without_outputs(_read_file(path), names, f"model {str(path)!r}")
        options = session.get_provider_options()
        providers = [(name, options.get(name, {})) for name in session.get_providers()]
        return ort.InferenceSession(data, sess_options=session.get_session_options(), providers=providers)
    except Exception:  # an unusual graph: keep the full one, which is only slower
        return session
