"""Pre-screening chat bot for clinical trial NCT06751199."""

__version__ = "0.1.0"
