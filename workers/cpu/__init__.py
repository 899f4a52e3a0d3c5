"""The ``cpu`` queue: probing, audio extraction and the merge step."""
