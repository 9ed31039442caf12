"""storewise.store."""
