"""Verdicts: what a claim concluded on one fixture. The schema lives in the installed package
(``reports/schema.py``) so that ``python -m reports build`` reads a verdicts file from any folder;
this module is the name the claims use."""

from reports.schema import (
    CONCLUSIONS,
    SCHEMA_VERSION,
    STATUSES,
    Verdict,
    VerdictsFileError,
    dump,
    fmt,
    load,
    outcome_row,
)

__all__ = ["CONCLUSIONS", "SCHEMA_VERSION", "STATUSES", "Verdict", "VerdictsFileError", "dump", "fmt",
           "load", "outcome_row"]
