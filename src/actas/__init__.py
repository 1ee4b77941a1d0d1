"""actas: the support-access broker."""

__version__ = "0.1.0"
