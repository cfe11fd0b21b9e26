"""Contacts, companies and deals: the records mail is matched to, and their importers.

The importers (:mod:`.csv_import`, :mod:`.vcard`, :mod:`.carddav`) only read: each returns an
:class:`~mailmatch.contacts.records.ImportedRecords` of plain dataclasses, together with an account
of which columns were used, which were ignored and which rows or cards were skipped and why. They
never touch the database, so they can be tested on files alone and previewed before anything is
written; storing, merging and re-matching mail is :mod:`.service`'s job.
"""
