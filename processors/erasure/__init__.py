"""Erasing one person: their data rewritten out of stored bodies, projections re-derived."""
