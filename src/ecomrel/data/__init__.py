"""Canonical data model, loaders, splits and the built-in sample catalogue."""

from ecomrel.data.rejects import Rejects
from ecomrel.data.schema import DataError, Dataset, read_table, write_table

__all__ = ["DataError", "Dataset", "Rejects", "read_table", "write_table"]
