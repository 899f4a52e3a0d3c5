"""HTTP routes: jobs (v1), the original Ethos endpoints, health."""
