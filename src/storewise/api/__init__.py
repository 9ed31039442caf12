"""storewise.api."""
