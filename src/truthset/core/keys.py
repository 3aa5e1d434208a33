"""64-bit keys of an item's identity: its content hash and its external id.

The store indexes the first 64 bits of an item's sha256 content hash (``content_key``) and
keeps both kinds of key of a project's items in memory during an import, so that only rows
that may match an item already stored are looked up in the database. Shared by the pure
layer that computes them (``data.records``) and the store that uses them (``store.bulk``).
"""

from __future__ import annotations

import zlib


def key_of_hash(digest: str) -> int:
    """The first 64 bits of a hex sha256 as a signed (big-endian) integer: ``content_key``."""
    return int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True)


def external_key(external_id: str) -> int:
    """A signed 64-bit hash of an external id: CRC-32 and Adler-32 side by side.

    Only a pre-filter (a match is checked against the stored id), so speed matters more
    than strength: two C checksums take a third of blake2b's time per id.
    """
    data = external_id.encode("utf-8")
    key = (zlib.crc32(data) << 32) | zlib.adler32(data)
    return key - (1 << 64) if key >= 1 << 63 else key
