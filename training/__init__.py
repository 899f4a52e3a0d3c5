"""Fine-tuning Voxtral with a LoRA adapter: supervised (``sft``) and rejection sampling (``rs``).

Data flow: manifest (JSONL: audio, tagged text) → ``data.Collator`` (the engine's own
transcription prompt + target + EOS, prompt masked) → ``sft.train`` → an adapter folder that
loads through the engine's strict path. ``rs`` samples completions with that adapter, keeps
the best per clip (``scoring``), writes the curated manifest and fine-tunes on it.
"""
