"""Helpers shared by the command modules: one-line user errors, and quiet third-party output.

Errors: :func:`friendly_errors` prints a :class:`ecomrel.errors.UserError` as one line and exits
with code 2; anything else is a bug and keeps its traceback.

Output: without ``ecomrel --verbose`` third-party chatter (Python warnings such as transformers'
FutureWarnings or torch's TracerWarnings, library log records such as ``DEBUG:bm25s`` or
ONNX Runtime's quantization advice, transformers' LOAD REPORT tables) goes to a log file instead
of the terminal: ``<run folder>/ecomrel.log`` once a command calls :func:`log_into`, else
``~/.cache/ecomrel/ecomrel.log``. ecomrel's own warnings still reach the terminal.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

err_console = Console(stderr=True)
LOG_NAME = "ecomrel.log"


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user errors (:class:`ecomrel.errors.UserError`) into one line and exit code 2.

    Anything else is a bug and keeps its traceback.
    """
    from ecomrel.errors import UserError

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            # soft_wrap: one line however narrow the terminal (Rich would break long paths)
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def check_split(data: str | Path, split: str | None) -> None:
    """A ``DataError`` naming ``splits.parquet`` and the splits it has when ``split`` is not one of them.

    A folder without splits.parquet is left to the command (some use every pair then).
    """
    if not split:
        return
    from ecomrel.data.schema import DataError

    path = Path(data) / "splits.parquet"
    if not path.exists():
        return
    import pyarrow.parquet as pq

    names = sorted({str(x) for x in pq.read_table(path, columns=["split"]).column("split").to_pylist()})
    if split not in names:
        raise DataError(f"--split {split!r}: no such split (has {', '.join(names) or 'none'})", file=path)


def check_out_path(path: str | Path | None, option: str = "--out", kind: str = "folder") -> None:
    """A ``ConfigError`` when an output path exists as the wrong kind (a file for a folder, or back)."""
    if path is None:
        return
    from ecomrel.errors import ConfigError

    p = Path(path)
    if kind == "folder" and p.exists() and not p.is_dir():
        raise ConfigError(f"{option} {p}: exists and is a file, expected a folder")
    if kind == "file" and p.is_dir():
        raise ConfigError(f"{option} {p}: is a folder, expected a file path")
    parent = p.parent if kind == "file" else p
    for anc in [parent, *parent.parents]:
        if anc.exists():
            if not anc.is_dir():
                raise ConfigError(f"{option} {p}: {anc} is a file, not a folder")
            break


class RunLogHandler(logging.Handler):
    """Appends records to a log file, opened only when the first record arrives.

    Until a command names its run folder (:meth:`use`) records wait in memory; records that never
    find a folder go to the default log at exit (:meth:`close`). A folder that cannot hold the log
    (say ``--out`` names a file) falls back to the default log rather than failing the command.
    """

    def __init__(self, default: Path, max_buffer: int = 10_000) -> None:
        super().__init__(logging.DEBUG)
        self.default = default
        self.max_buffer = max_buffer
        self.path: Path | None = None
        self._buffer: list[logging.LogRecord] = []
        self._stream: Any = None
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def use(self, path: Path) -> None:
        """Write to ``path`` from now on (opened lazily); records held so far go there too."""
        self.acquire()
        try:
            if self._stream is not None:
                self._stream.close()
                self._stream = None
            self.path = path
            if self._buffer:
                self._open()
        finally:
            self.release()

    def _open(self) -> None:
        for path in (self.path or self.default, self.default):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._stream = path.open("a", encoding="utf-8")
                self.path = path
                break
            except OSError:
                continue
        if self._stream is None:  # pragma: no cover - nowhere writable: drop the records
            self._buffer.clear()
            return
        for record in self._buffer:
            self._write(record)
        self._buffer.clear()

    def _write(self, record: logging.LogRecord) -> None:
        self._stream.write(self.format(record) + "\n")
        self._stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._stream is None and self.path is not None:
                self._buffer.append(record)
                self._open()
            elif self._stream is not None:
                self._write(record)
            elif len(self._buffer) < self.max_buffer:
                self._buffer.append(record)
        except Exception:  # pragma: no cover - logging must never break a command
            self.handleError(record)

    def close(self) -> None:
        try:
            if self._stream is None and self._buffer:
                self._open()
            if self._stream is not None:
                self._stream.close()
                self._stream = None
        except OSError:  # pragma: no cover - an unwritable home: drop the records
            pass
        super().close()


class _Stderr(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is when a record arrives."""

    def __init__(self, level: int, fmt: str) -> None:
        super().__init__()
        self.setLevel(level)
        self.setFormatter(logging.Formatter(fmt))

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # set by StreamHandler.__init__; always sys.stderr
        pass


_handler: RunLogHandler | None = None
_installed: list[tuple[logging.Logger, logging.Handler]] = []


def _default_log() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ecomrel" / LOG_NAME


def _install(logger: logging.Logger, handler: logging.Handler) -> None:
    logger.addHandler(handler)
    _installed.append((logger, handler))


def configure_output(verbose: bool) -> None:
    """Route third-party warnings and log records: to the terminal with ``verbose``, else to a log file."""
    global _handler
    for logger, handler in _installed:  # a second invocation in one process (tests): start over
        logger.removeHandler(handler)
        handler.close()
    _installed.clear()
    _handler = None
    root = logging.getLogger()
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    if verbose:
        logging.captureWarnings(False)
        _install(root, _Stderr(logging.INFO, "%(levelname)s %(name)s: %(message)s"))
        return
    _handler = RunLogHandler(_default_log())
    _install(root, _handler)  # later logging.basicConfig calls (libraries, scripts) are no-ops now
    # warnings.warn → logger 'py.warnings' → the log file (reset first: captureWarnings(True) is a
    # no-op when an earlier call in this process was undone by a warnings.catch_warnings block)
    logging.captureWarnings(False)
    logging.captureWarnings(True)
    # ecomrel's own warnings stay on the terminal
    _install(logging.getLogger("ecomrel"), _Stderr(logging.WARNING, "warning: %(message)s"))
    # transformers logs through a handler of its own (LOAD REPORT tables, deprecation notices);
    # routed once it is imported, and told to stay quiet on its own stderr handler meanwhile
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # "Loading weights" / "Writing shards" bars
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _route_transformers()


def _route_transformers() -> None:
    """If transformers is already imported, send its records to the log file instead of stderr."""
    tf = sys.modules.get("transformers.utils.logging")
    if tf is None:
        return
    tf.disable_default_handler()
    tf.enable_propagation()


def log_into(folder: str | Path) -> Path | None:
    """Write this command's log to ``<folder>/ecomrel.log`` (quiet mode only); returns the path.

    Nothing is created until a record arrives, so a command that fails on its options leaves no
    folder behind."""
    if _handler is None:
        return None
    _route_transformers()
    _handler.use(Path(folder) / LOG_NAME)
    return _handler.path
