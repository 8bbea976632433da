"""Jinja2 templates for every outbound mail (Chinese first, English beside) and mail composition."""
