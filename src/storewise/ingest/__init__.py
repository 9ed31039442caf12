"""storewise.ingest."""
