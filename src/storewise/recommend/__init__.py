"""storewise.recommend."""
