"""Relay: hand every stored event on to the team's own applications (destinations)."""
