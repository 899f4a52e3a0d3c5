"""Speaker encoders other than the default (Resemblyzer, ``workers/diarize/embed.py``), chosen
with ``ETHOS_DIARIZE__ENCODER``. Each module offers ``load_encoder(threads)``,
``embed_batch(encoder, windows_of_samples)``, ``info()`` and ``DIM``."""
