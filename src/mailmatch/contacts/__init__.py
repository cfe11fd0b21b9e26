"""Contacts, companies and deals: the records mail is matched to, and their importers."""
