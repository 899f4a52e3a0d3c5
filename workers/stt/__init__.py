"""The ``stt`` queue: Silero VAD, then a speech engine over batches of segments."""
