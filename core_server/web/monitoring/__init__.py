"""The web side of monitoring: ``/metrics``, the request-time middleware, the system page."""
