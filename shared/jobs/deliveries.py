"""A job's webhook delivery attempts (shown in the job view)."""

from __future__ import annotations

from shared.jobs.base import StoreBase
from shared.schemas.record import WebhookDelivery


class WebhookDeliveries(StoreBase):
    """The delivery attempts of each job's callback, oldest first."""

    def record_delivery(self, job_id: str, attempt: WebhookDelivery) -> None:
        """Append one webhook delivery attempt (kept as long as the job record)."""
        key = self.keys.deliveries(job_id)
        pipe = self.r.pipeline()
        pipe.rpush(key, attempt.model_dump_json())
        pipe.expire(key, self.ttl_s)
        pipe.execute()

    def deliveries(self, job_id: str) -> list[WebhookDelivery]:
        return [WebhookDelivery.model_validate_json(raw)
                for raw in self.r.lrange(self.keys.deliveries(job_id), 0, -1)]
