"""storewise.web: the retailer dashboard, server-rendered pages over the engine.

Include it in the API app (pages at ``/``, beside ``/v1``)::

    from storewise.web import create_dashboard
    app.include_router(create_dashboard(lambda: engine))

Sign-in takes an API key with the ``admin`` scope; see :mod:`storewise.web.auth` for the
session cookie and CSRF design, :mod:`storewise.web.app` for the routes.
"""

from storewise.web.app import create_dashboard

__all__ = ["create_dashboard"]
