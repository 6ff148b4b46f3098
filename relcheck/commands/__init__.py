"""Thin commands: each parses nothing, calls the core, and returns an exit code."""
