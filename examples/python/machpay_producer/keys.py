"""The agent's Ed25519 key, in the forms Solana tooling and the machpay SDK use.

A secret is either base58 text of the 64-byte secret key (32-byte seed, then the public
key) or of a bare 32-byte seed, or a Solana ``id.json`` file: a JSON array of 64 numbers.
"""

import json
import os
from dataclasses import dataclass

import nacl.signing

from .base58 import b58decode, b58encode

SECRET_ENV = "MACHPAY_AGENT_SECRET"


@dataclass(frozen=True)
class AgentKey:
    signing_key: nacl.signing.SigningKey

    @property
    def public_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    @property
    def agent_id(self) -> str:
        """The base58 public key: X-MachPay-Agent and every event's data.agent_id."""
        return b58encode(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached Ed25519 signature of ``message``."""
        return self.signing_key.sign(message).signature

    def secret_key_bytes(self) -> bytes:
        return bytes(self.signing_key) + self.public_key


def key_from_secret(text: str, where: str) -> AgentKey:
    text = text.strip()
    if text.startswith("["):
        try:
            raw = bytes(json.loads(text))
        except (ValueError, TypeError) as err:
            raise ValueError(f"{where}: not a JSON array of bytes ({err})") from None
    else:
        try:
            raw = b58decode(text)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
    if len(raw) not in (32, 64):
        raise ValueError(f"{where}: a secret key has 64 bytes (or a 32-byte seed), got {len(raw)}")
    key = AgentKey(nacl.signing.SigningKey(raw[:32]))
    # A 64-byte key whose public half belongs to another seed would sign requests that
    # never verify: refuse it here rather than at the receiver.
    if len(raw) == 64 and raw[32:] != key.public_key:
        raise ValueError(f"{where}: the public half does not match the seed")
    return key


def load_key(path: str | None) -> AgentKey | None:
    """The key from MACHPAY_AGENT_SECRET, else from ``path``; None when neither exists."""
    value = os.environ.get(SECRET_ENV, "")
    if value.strip():
        return key_from_secret(value, SECRET_ENV)
    if path is None or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return key_from_secret(f.read(), path)


def generate_key(path: str) -> AgentKey:
    """A new random key, saved to ``path`` as a Solana id.json readable only by its owner."""
    key = AgentKey(nacl.signing.SigningKey.generate())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(list(key.secret_key_bytes()), f)
    return key
