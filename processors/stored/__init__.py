"""Acting on stored events: select them, replay them, forward them, drop old months."""
