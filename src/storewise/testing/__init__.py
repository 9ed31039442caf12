"""storewise.testing."""
