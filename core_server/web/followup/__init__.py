"""The follow-up web adapter: ``/api/followup`` and the ``/followup`` page."""
