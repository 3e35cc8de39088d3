"""Collection audit: suspected label errors, near-duplicates and uniqueness.

A composition layer above the tasks (it reads the fusion head of :mod:`pictext.classify`)
and below the front ends (the CLI's ``pictext audit``, the service's browser, the report).
"""

from __future__ import annotations

from pictext.audit.run import AuditConfig, AuditResult, audit_dataset

__all__ = ["AuditConfig", "AuditResult", "audit_dataset"]
