"""storewise.datasets."""
