"""storewise.marketing."""
