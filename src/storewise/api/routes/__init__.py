"""One router per domain: events and catalog in, recommendations out, customers, operations."""
