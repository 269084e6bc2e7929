"""Errors a person can act on: each names the file (and row or column) and what was expected.

Imports: nothing of ours.
"""


class PipelineError(RuntimeError):
    """Base class: the CLI prints these without a traceback and leaves the store untouched."""


class DataError(PipelineError):
    """Raw input data is missing, malformed or implausible."""


class ModelFileError(PipelineError):
    """A model artifact is missing or unreadable."""


class NotReadyError(PipelineError):
    """A stage needs the output of an earlier stage that has not run."""


class ConfigError(PipelineError):
    """A configuration file or --set override names an unknown key or a value of the wrong type."""
