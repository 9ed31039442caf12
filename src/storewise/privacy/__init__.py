"""storewise.privacy."""
