"""Shipped report template content (Chinese system templates for common CT, MR, DR,
mammography, ultrasound and endoscopy exams) and its loader."""

from core_server.reporting.content.loader import SHIPPED, load_system_templates, shipped_templates

__all__ = ["SHIPPED", "load_system_templates", "shipped_templates"]
