"""Helpers shared by tests/, bench/ and scripts/: real processes (``procs``), generated media
(``media``, ``dialogue``) and a tiny offline Voxtral (``tiny_voxtral``)."""
