"""storewise.support."""
