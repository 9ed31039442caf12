"""Shared contract suites (every store, every recommender) and small fixtures for tests."""
