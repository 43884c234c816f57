"""Exceptions the pipeline raises on purpose; each carries one line for the operator."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input (symbol, date, slot, universe file, config): exit code 2, nothing written."""


class JobFailed(RuntimeError):
    """The job ran but could not do its work (gateway down, cache rebuild failed, ...): exit 1."""


class CacheMissing(JobFailed):
    """The contract cache is missing/empty/corrupt and rebuilding was not allowed or failed."""
