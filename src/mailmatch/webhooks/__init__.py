"""Outbound webhooks: signed, retried, logged."""
