"""User-facing error types.

Every error a user can cause (a bad file, row, field, option or missing dependency) is raised
as :class:`UserError` or a subclass; the CLI maps it to one line naming the file, row and field
and exit code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class UserError(ValueError):
    """Input or settings that cannot be used; the message names the file, row and field.

    ``file``, ``row`` and ``field`` are optional structured parts; when given they are prefixed
    to the message (``file: row 3: field 'price': ...``) unless the message already names them.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.row = row
        self.field = field
        parts = []
        if self.file and not message.startswith(self.file):
            parts.append(self.file)
        if row is not None:
            parts.append(f"row {row}")
        if field is not None:
            parts.append(f"field {field!r}")
        self.message = message
        super().__init__(": ".join([*parts, message]) if parts else message)


class DataError(UserError):
    """Data that cannot be used (a table, a column, a row)."""


class ConfigError(UserError):
    """A config file, option or override that cannot be used."""


class MissingDependencyError(UserError):
    """An optional dependency a requested backend or feature needs is not installed."""
