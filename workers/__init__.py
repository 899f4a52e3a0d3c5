"""Celery workers: ``cpu`` (probe, audio, merge), ``stt`` (speech), ``fer`` (faces)."""
