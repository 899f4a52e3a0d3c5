"""Who is speaking: speaker embeddings, clustering and turns (the ``diarize`` queue)."""
