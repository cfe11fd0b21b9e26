"""Ingest: turn the raw bytes of one message into plain data, without ever raising.

The sync engine hands over raw bytes; :func:`~mailmatch.ingest.parse.parse_message` returns a
:class:`~mailmatch.ingest.models.ParsedMessage` that the store saves next to the untouched raw
blob. Parsing is best effort by design: a message that cannot be understood is still stored and
counted (``parse_level="raw"``), because an import must never stop on one bad message.
"""
