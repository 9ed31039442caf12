"""storewise.web."""
