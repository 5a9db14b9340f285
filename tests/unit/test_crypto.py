"""Keyring: AES-GCM tokens bound to their context, rotation, blind indexes, key files."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from esp_coord.crypto import DecryptionError, KeyFileError, Keyring

SECRET = b"MARTIN Jeanne 248037505611878"


def test_round_trip_with_context() -> None:
    ring = Keyring.generate()
    token = ring.encrypt(SECRET, context=b"outbox:<a@b>")
    assert SECRET not in token
    assert ring.decrypt(token, context=b"outbox:<a@b>") == SECRET


def test_same_plaintext_gives_different_tokens() -> None:
    ring = Keyring.generate()
    assert ring.encrypt(SECRET) != ring.encrypt(SECRET)


def test_wrong_context_fails_without_data_in_message() -> None:
    ring = Keyring.generate()
    token = ring.encrypt(SECRET, context=b"outbox:<a@b>")
    with pytest.raises(DecryptionError) as info:
        ring.decrypt(token, context=b"outbox:<other@b>")
    assert "MARTIN" not in str(info.value)
    with pytest.raises(DecryptionError):
        ring.decrypt(token)


def test_tampered_body_or_header_fails() -> None:
    ring = Keyring.generate()
    token = bytearray(ring.encrypt(SECRET))
    body = bytearray(token)
    body[-1] ^= 1
    with pytest.raises(DecryptionError):
        ring.decrypt(bytes(body))
    nonce = bytearray(token)
    nonce[6] ^= 1  # inside the nonce, which is authenticated as AAD too
    with pytest.raises(DecryptionError):
        ring.decrypt(bytes(nonce))
    version = bytearray(token)
    version[0] = 9
    with pytest.raises(DecryptionError, match="version"):
        ring.decrypt(bytes(version))
    with pytest.raises(DecryptionError):
        ring.decrypt(b"short")


def test_other_keyring_cannot_decrypt() -> None:
    token = Keyring.generate().encrypt(SECRET)
    with pytest.raises(DecryptionError):
        Keyring.generate().decrypt(token)


def test_rotation_keeps_old_data_readable_and_writes_with_new_key() -> None:
    old = Keyring.generate()
    old_token = old.encrypt(SECRET, context=b"c")
    new = old.rotate()
    assert new.current_key_id == old.current_key_id + 1
    assert Keyring.token_key_id(old_token) == old.current_key_id
    new_token = new.encrypt(SECRET, context=b"c")
    assert Keyring.token_key_id(new_token) == new.current_key_id
    assert new.decrypt(old_token, context=b"c") == SECRET
    assert new.decrypt(new_token, context=b"c") == SECRET
    # The old keyring does not know the new key: a clear error, not garbage.
    with pytest.raises(DecryptionError, match="key id 2"):
        old.decrypt(new_token, context=b"c")
    # rotate() returns a new keyring and leaves the original as it was.
    assert old.current_key_id == 1


def test_blind_index_is_deterministic_keyed_and_separated_by_purpose() -> None:
    ring = Keyring.generate()
    ins = "248037505611878"
    digest = ring.blind_index(ins, purpose="ins")
    assert digest == ring.blind_index(ins, purpose="ins")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert ins not in digest
    assert digest != ring.blind_index(ins, purpose="identity")
    assert digest != Keyring.generate().blind_index(ins, purpose="ins")
    # NFC + strip: the same name typed two ways gives one digest.
    assert ring.blind_index(" Jos\u00e9 ", purpose="identity") == ring.blind_index(
        "Jose\u0301", purpose="identity"
    )
    with pytest.raises(ValueError):
        ring.blind_index(ins, purpose="")


def test_blind_index_survives_rotation() -> None:
    ring = Keyring.generate()
    assert ring.rotate().blind_index("x", purpose="ins") == ring.blind_index("x", purpose="ins")


def test_save_and_load(tmp_path: Path) -> None:
    ring = Keyring.generate().rotate()
    path = tmp_path / "deep" / "keys.json"
    ring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Keyring.load(path)
    assert loaded.current_key_id == 2 and loaded.key_ids == (1, 2)
    assert loaded.decrypt(ring.encrypt(SECRET)) == SECRET
    assert loaded.blind_index("a", purpose="ins") == ring.blind_index("a", purpose="ins")
    assert list(tmp_path.joinpath("deep").iterdir()) == [path]  # no temp file left


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = Keyring.generate()
    first.save(path)
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        Keyring.generate().save(path)
    assert Keyring.load(path).decrypt(first.encrypt(b"x")) == b"x"
    rotated = Keyring.load(path).rotate()
    rotated.save(path, overwrite=True)
    assert Keyring.load(path).current_key_id == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_repr_shows_no_key_material(tmp_path: Path) -> None:
    ring = Keyring.generate()
    path = tmp_path / "k.json"
    ring.save(path)
    doc = json.loads(path.read_text())
    text = repr(ring)
    assert doc["keys"]["1"] not in text and doc["index_key"] not in text


def _write(path: Path, content: str, mode: int = 0o600) -> Path:
    path.write_text(content)
    os.chmod(path, mode)
    return path


def test_key_file_errors_name_the_file_and_never_the_keys(tmp_path: Path) -> None:
    good = Keyring.generate()
    good_path = tmp_path / "good.json"
    good.save(good_path)
    doc = json.loads(good_path.read_text())
    secret_b64 = doc["keys"]["1"]

    cases: dict[str, tuple[Path, str]] = {}
    cases["missing"] = (tmp_path / "absent.json", "not found")
    cases["json"] = (_write(tmp_path / "bad.json", "{not json"), "not valid JSON")
    cases["format"] = (_write(tmp_path / "fmt.json", json.dumps({"a": 1})), "format")
    wrong_current = dict(doc, current=7)
    cases["current"] = (_write(tmp_path / "cur.json", json.dumps(wrong_current)), '"current"')
    short = dict(doc, keys={"1": base64.b64encode(b"short").decode()})
    cases["short"] = (_write(tmp_path / "short.json", json.dumps(short)), "32 bytes")
    not_b64 = dict(doc, index_key="%%%" + secret_b64)
    cases["b64"] = (_write(tmp_path / "b64.json", json.dumps(not_b64)), "base64")
    cases["mode"] = (_write(tmp_path / "open.json", json.dumps(doc), 0o644), "chmod 600")
    for name, (path, expected) in cases.items():
        with pytest.raises(KeyFileError) as info:
            Keyring.load(path)
        message = str(info.value)
        assert str(path) in message, name
        assert expected in message, (name, message)
        assert secret_b64 not in message and doc["index_key"] not in message, name


def test_fingerprints_tell_keys_apart_and_hold_none(tmp_path: Path) -> None:
    ring = Keyring.generate()
    path = tmp_path / "keys.json"
    ring.rotate().save(path)
    loaded = Keyring.load(path)
    assert loaded.source == path and ring.source is None
    prints = loaded.fingerprints()
    assert set(prints) == {("data", 1), ("data", 2), ("index", 0)}
    assert {k: v for k, v in prints.items() if k != ("data", 2)} == ring.fingerprints()
    assert len(set(prints.values())) == 3  # one per key
    other = Keyring.generate().fingerprints()
    assert not set(other.values()) & set(prints.values())
    doc = json.loads(path.read_text())
    for encoded in [*doc["keys"].values(), doc["index_key"]]:
        raw = base64.b64decode(encoded)
        for value in prints.values():
            assert raw.hex() not in value and encoded not in value
    # The blind index of a value never equals a fingerprint (separate labels).
    assert loaded.blind_index("index:0", purpose="esp-coord key fingerprint v1") not in \
        prints.values()
