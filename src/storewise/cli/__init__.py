"""storewise.cli."""
