"""The processing pipeline: parse stored bodies, project them, drain and rebuild."""
