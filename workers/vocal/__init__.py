"""Vocal events: laughter, sighs, crying and other sounds of the voice, found by YAMNet."""
