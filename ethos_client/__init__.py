"""A Python client for the Ethos API (sync and async, on httpx) and the ``ethos`` command."""

from ethos_client.client import AsyncEthosClient, EthosClient, EthosError, vocal_events

__all__ = ["AsyncEthosClient", "EthosClient", "EthosError", "vocal_events"]
