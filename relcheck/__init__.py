"""relcheck: release-readiness checklists with a durable run record."""

__version__ = "0.1.0"
