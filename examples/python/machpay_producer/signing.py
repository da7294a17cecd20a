"""The agent request signature of docs/protocol.md §3."""

import base64

from .keys import AgentKey


def signed_bytes(timestamp_ms: int, path: str, body: bytes) -> bytes:
    """``machpay-v1\\n{timestamp}\\n{path}\\n`` followed by the body as transmitted (after gzip)."""
    return f"machpay-v1\n{timestamp_ms}\n{path}\n".encode("ascii") + body


def sign_request(key: AgentKey, path: str, body: bytes, timestamp_ms: int) -> dict[str, str]:
    """The three headers that authenticate ``body``; sign again for every attempt."""
    signature = key.sign(signed_bytes(timestamp_ms, path, body))
    return {
        "X-MachPay-Agent": key.agent_id,
        "X-MachPay-Timestamp": str(timestamp_ms),
        "X-MachPay-Signature": base64.b64encode(signature).decode("ascii"),
    }
