"""Corpus cases by kind of notification: each module defines CASES (tests.support.bodies.Case)."""
