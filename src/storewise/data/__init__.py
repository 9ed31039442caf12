"""storewise.data."""
