"""Base58 with the Bitcoin/Solana alphabet: the form of an agent id (docs/protocol.md §3)."""

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number > 0:
        number, rest = divmod(number, 58)
        digits.append(ALPHABET[rest])
    # Each leading zero byte is written as a leading "1".
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    number = 0
    for c in text:
        if c not in _INDEX:
            raise ValueError(f"not a base58 character: {c!r}")
        number = number * 58 + _INDEX[c]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + body
