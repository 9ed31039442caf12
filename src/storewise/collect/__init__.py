"""Browser collection: ``storewise.js`` (package data), the ``POST /v1/collect`` door behind
publishable keys, and the public lists the snippet's widgets show.

``service.Collect`` is wired by ``storewise.app.build`` as ``Services.collect``; the API's
``routes/collect.py`` is its front-end (CORS, keys in the body, rate-limit answers).
"""
