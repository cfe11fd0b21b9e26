"""Matching messages to contacts, companies and deals, with the reason for every link."""
