"""The HTTP gateway: uploads into storage, job records, status, results, Studio."""
