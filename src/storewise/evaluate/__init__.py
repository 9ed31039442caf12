"""storewise.evaluate."""
