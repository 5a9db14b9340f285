"""Encryption of patient data at rest, and blind indexes to find it again.

A ``Keyring`` holds numbered AES-256 data keys (one current, older ones kept to
read what they wrote) and one HMAC key for blind indexes. The index key is not
rotated with the data keys: rotating it would orphan every stored index.

Token layout (all integers big-endian)::

    version (1 byte) | key id (4 bytes) | nonce (12 bytes) | AES-GCM ciphertext + tag

The header and the caller's ``context`` are both authenticated (AAD), so a
token copied to another row (another context) or edited in its header fails
to decrypt.

Key file: a small JSON document, mode 0600::

    {"format": "esp-coord-keyring", "version": 1, "current": 2,
     "keys": {"1": "<base64>", "2": "<base64>"}, "index_key": "<base64>"}

Error messages name files and key ids, never key material nor plaintext.

Key fingerprints (``fingerprints``) let a database remember which keys wrote
it without holding them: an HMAC-SHA256 of a fixed label under each key. They
reveal nothing about a key, and a different key gives a different fingerprint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import struct
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_NAME = "esp-coord-keyring"
FORMAT_VERSION = 1
TOKEN_VERSION = 1
_HEADER = struct.Struct(">BI12s")
_KEY_BYTES = 32
_NONCE_BYTES = 12
# Kinds of key in ``Keyring.fingerprints``; the index key is listed as id 0.
DATA_KEY = "data"
INDEX_KEY = "index"
# Starts with NUL: a blind index hashes "purpose NUL value" with a non-empty
# purpose, so no blind index can ever equal the index key's fingerprint.
_FINGERPRINT_LABEL = b"\x00esp-coord key fingerprint v1\x00"


class KeyFileError(Exception):
    """The key file is missing, unreadable, malformed or too widely readable."""


class DecryptionError(Exception):
    """A token could not be decrypted: wrong key, wrong context, or damaged."""


class Keyring:
    """Data keys by id, the current id, and the blind-index key. Immutable."""

    __slots__ = ("_keys", "_current", "_index_key", "_ciphers", "_source")

    def __init__(self, *, keys: Mapping[int, bytes], current: int, index_key: bytes,
                 source: Path | None = None) -> None:
        if current not in keys:
            raise ValueError(f"current key id {current} is not among the keys")
        for key_id, key in keys.items():
            if not 0 < key_id < 2**32 or len(key) != _KEY_BYTES:
                raise ValueError(f"key {key_id}: expected an id in 1..2^32-1 and 32 bytes")
        if len(index_key) != _KEY_BYTES:
            raise ValueError("the index key must be 32 bytes")
        self._keys = dict(keys)
        self._current = current
        self._index_key = bytes(index_key)
        self._ciphers = {key_id: AESGCM(key) for key_id, key in self._keys.items()}
        self._source = Path(source) if source is not None else None

    def __repr__(self) -> str:
        # Never the keys themselves: a repr can end up in a log or a traceback.
        return f"Keyring(current={self._current}, key_ids={sorted(self._keys)})"

    @property
    def current_key_id(self) -> int:
        return self._current

    @property
    def key_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self._keys))

    @property
    def source(self) -> Path | None:
        """The key file this keyring was loaded from (None when made in memory)."""
        return self._source

    def fingerprints(self) -> dict[tuple[str, int], str]:
        """``{("data", id): hex, ..., ("index", 0): hex}``: an HMAC-SHA256 of a
        fixed label under each key, to tell keys apart without storing them."""
        def of(kind: str, key_id: int, key: bytes) -> str:
            label = _FINGERPRINT_LABEL + f"{kind}:{key_id}".encode()
            return hmac.new(key, label, hashlib.sha256).hexdigest()

        found = {(DATA_KEY, key_id): of(DATA_KEY, key_id, key)
                 for key_id, key in sorted(self._keys.items())}
        found[(INDEX_KEY, 0)] = of(INDEX_KEY, 0, self._index_key)
        return found

    # --- creation, files ---------------------------------------------------

    @classmethod
    def generate(cls) -> Keyring:
        return cls(
            keys={1: AESGCM.generate_key(bit_length=256)},
            current=1,
            index_key=secrets.token_bytes(_KEY_BYTES),
        )

    def rotate(self) -> Keyring:
        """A new keyring whose current key is fresh; older keys still decrypt."""
        new_id = max(self._keys) + 1
        keys = {**self._keys, new_id: AESGCM.generate_key(bit_length=256)}
        return Keyring(keys=keys, current=new_id, index_key=self._index_key,
                       source=self._source)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        path = Path(path)
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyFileError(f"{path}: key file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyFileError(f"{path}: cannot read the key file ({type(exc).__name__})") from None
        if mode & 0o077:
            raise KeyFileError(
                f"{path}: the key file can be read by other users; run `chmod 600 {path}`"
            )
        try:
            doc = json.loads(text)
        except ValueError:
            raise KeyFileError(f"{path}: the key file is not valid JSON") from None
        return cls._from_document(path, doc)

    @classmethod
    def _from_document(cls, path: Path, doc: Any) -> Keyring:
        def fail(what: str) -> KeyFileError:
            return KeyFileError(f"{path}: {what}")

        if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
            raise fail(f'not an esp-coord key file (expected "format": "{FORMAT_NAME}")')
        if doc.get("version") != FORMAT_VERSION:
            raise fail(f"unsupported key file version (expected {FORMAT_VERSION})")
        raw_keys = doc.get("keys")
        if not isinstance(raw_keys, dict) or not raw_keys:
            raise fail('"keys" must be a non-empty table of key id -> base64 key')
        keys: dict[int, bytes] = {}
        for raw_id, encoded in raw_keys.items():
            try:
                key_id = int(raw_id)
            except ValueError:
                raise fail(f'key id "{raw_id}" is not a number') from None
            keys[key_id] = _decode_key(encoded, fail, f"key {key_id}")
        current = doc.get("current")
        if not isinstance(current, int) or current not in keys:
            raise fail('"current" must be the id of one of the keys')
        index_key = _decode_key(doc.get("index_key"), fail, '"index_key"')
        try:
            return cls(keys=keys, current=current, index_key=index_key, source=path)
        except ValueError as exc:
            raise fail(str(exc)) from None

    def save(self, path: Path, *, overwrite: bool = False) -> None:
        """Write the key file with mode 0600, atomically, creating its folder."""
        path = Path(path)
        doc = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "current": self._current,
            "keys": {str(k): base64.b64encode(v).decode() for k, v in sorted(self._keys.items())},
            "index_key": base64.b64encode(self._index_key).decode(),
        }
        data = (json.dumps(doc, indent=2) + "\n").encode()
        if path.exists() and not overwrite:
            raise KeyFileError(f"{path}: a key file already exists; refusing to overwrite it")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if overwrite:
                os.replace(tmp, path)
            else:
                # link() fails if the name appeared meanwhile: no silent overwrite.
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    raise KeyFileError(
                        f"{path}: a key file already exists; refusing to overwrite it"
                    ) from None
        finally:
            tmp.unlink(missing_ok=True)

    # --- encryption --------------------------------------------------------

    def encrypt(self, plaintext: bytes, *, context: bytes = b"") -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        header = _HEADER.pack(TOKEN_VERSION, self._current, nonce)
        return header + self._ciphers[self._current].encrypt(nonce, plaintext, header + context)

    def decrypt(self, token: bytes, *, context: bytes = b"") -> bytes:
        token = bytes(token)
        if len(token) < _HEADER.size + 16:
            raise DecryptionError("token too short")
        version, key_id, nonce = _HEADER.unpack_from(token)
        if version != TOKEN_VERSION:
            raise DecryptionError(f"unknown token format version {version}")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(f"token written with key id {key_id}, absent from the keyring")
        header = token[: _HEADER.size]
        try:
            return cipher.decrypt(nonce, token[_HEADER.size :], header + context)
        except InvalidTag:
            raise DecryptionError(
                f"token does not authenticate under key id {key_id} and this context"
            ) from None

    @staticmethod
    def token_key_id(token: bytes) -> int:
        """The key id a token was written with (for re-encryption after rotation)."""
        if len(token) < _HEADER.size:
            raise DecryptionError("token too short")
        return int(_HEADER.unpack_from(bytes(token))[1])

    # --- blind indexes -----------------------------------------------------

    def blind_index(self, value: str, *, purpose: str) -> str:
        """A keyed digest of ``value`` to find rows by equality without storing it.

        The value is NFC-normalised and stripped, so visually equal inputs match;
        any other normalisation (case, spaces inside) is the caller's choice.
        ``purpose`` separates index spaces: the same value gives unrelated
        digests under "ins" and "identity".
        """
        if not purpose or "\x00" in purpose:
            raise ValueError("purpose must be a non-empty name without NUL")
        normalised = unicodedata.normalize("NFC", value).strip()
        message = purpose.encode() + b"\x00" + normalised.encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()


def _decode_key(encoded: Any, fail: Any, what: str) -> bytes:
    if not isinstance(encoded, str):
        raise fail(f"{what} must be a base64 string")
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise fail(f"{what} is not valid base64") from None
    if len(key) != _KEY_BYTES:
        raise fail(f"{what} must decode to {_KEY_BYTES} bytes")
    return key
