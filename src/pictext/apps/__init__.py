"""Thin front ends over the library: CLI command groups, reports, the service."""
