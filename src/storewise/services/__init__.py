"""The services the composition root (:mod:`storewise.app`) wires together, one job each.

- :mod:`~storewise.services.customers`: profile facts, consent, identity, export, erasure.
- :mod:`~storewise.services.ingest`: data in (files, API records, synthetic shops, datasets).
- :mod:`~storewise.services.insights`: dashboard aggregates and the training history.
- :mod:`~storewise.services.training`: snapshot -> tune -> fit -> publish, and evaluation.

Serving is :class:`storewise.engine.Engine`; marketing and support live in their packages and
take narrow ports, never a service.
"""
