"""Code both sides import: settings, schemas, storage, job store, Celery app, tag table."""
