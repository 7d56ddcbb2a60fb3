"""Monitoring: the core's Prometheus metrics, the system page's history and its alerts."""
