"""Tests of the contacts importers: CSV exports, vCard files and a real CardDAV server."""
