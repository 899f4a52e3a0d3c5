"""Transcript quality: metrics, and the ``ethos-eval`` harness that measures a running Ethos."""
