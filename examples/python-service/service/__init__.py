"""A tiny HTTP service used to demonstrate a relcheck release checklist."""

__version__ = "1.0.0"
