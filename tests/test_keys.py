"""API keys, the media URL secret and webhook signing secrets (``cinefuse.keys``).

Keys come from ``CINEFUSE_API_KEYS`` (a comma list, blanks dropped) or are created once in
the data dir (mode 0600) and reused; the media secret likewise; webhook secrets are mapped
to the key ids of the job store and refused when they name an unknown key or no secret.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cinefuse.jobs.store import JobStore, hash_key
from cinefuse.keys import KEY_FILE, configured_keys, load_or_create_secret, webhook_secrets
from cinefuse.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read ``CINEFUSE_*`` variables: none from the caller's shell leak in."""
    for name in list(os.environ):
        if name.startswith("CINEFUSE_"):
            monkeypatch.delenv(name)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -------------------------------------------------------------------------------- API keys


@pytest.mark.parametrize(
    ("setting", "keys"),
    [
        ("alpha", ["alpha"]),
        ("alpha,beta", ["alpha", "beta"]),
        (" alpha , ,beta,, ", ["alpha", "beta"]),
        ("alpha,alpha2,", ["alpha", "alpha2"]),
    ],
)
def test_configured_keys_come_from_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, setting: str, keys: list[str]
) -> None:
    monkeypatch.setenv("CINEFUSE_API_KEYS", setting)
    settings = Settings(data_dir=tmp_path / "data")
    assert configured_keys(settings) == (keys, False)
    assert not (tmp_path / "data").exists()  # nothing is written when keys are configured


def test_without_configured_keys_one_is_created_once_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "nested" / "data")
    keys, created = configured_keys(settings)
    assert created is True and len(keys) == 1
    (key,) = keys
    assert len(key) >= 32 and key.strip() == key and "," not in key
    path = tmp_path / "nested" / "data" / KEY_FILE
    assert path.read_text().strip() == key
    assert mode_of(path) == 0o600

    assert configured_keys(settings) == ([key], False)
    assert configured_keys(Settings(data_dir=tmp_path / "nested" / "data")) == ([key], False)
    other, created_again = configured_keys(Settings(data_dir=tmp_path / "elsewhere"))
    assert created_again is True and other != [key]


def test_configured_keys_win_over_the_key_file(tmp_path: Path) -> None:
    (created,), _ = configured_keys(Settings(data_dir=tmp_path))
    assert configured_keys(Settings(data_dir=tmp_path, api_keys="alpha")) == (["alpha"], False)
    assert configured_keys(Settings(data_dir=tmp_path)) == ([created], False)


# ------------------------------------------------------------------------- media secret


def test_the_media_secret_is_created_once_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    secret = load_or_create_secret(settings)
    assert len(secret) >= 32
    assert load_or_create_secret(settings) == secret
    assert load_or_create_secret(Settings(data_dir=tmp_path / "data")) == secret
    assert mode_of(tmp_path / "data" / "media.secret") == 0o600
    assert load_or_create_secret(Settings(data_dir=tmp_path / "other")) != secret


def test_a_configured_media_secret_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    generated = load_or_create_secret(Settings(data_dir=tmp_path / "data"))
    monkeypatch.setenv("CINEFUSE_MEDIA_SECRET", "operator-chosen secret")
    settings = Settings(data_dir=tmp_path / "data")
    assert load_or_create_secret(settings) == b"operator-chosen secret" != generated
    assert load_or_create_secret(Settings(data_dir=tmp_path / "fresh", media_secret="s3cr3t")) == b"s3cr3t"
    assert not (tmp_path / "fresh").exists()


# ---------------------------------------------------------------------- webhook secrets


def test_webhook_secrets_map_key_ids_to_secrets(repo: JobStore) -> None:
    ids = repo.keys.ensure(["alpha", "beta", "gamma"])
    settings = Settings(webhook_secrets=" alpha:whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw , beta:plain:with:colons ,")
    assert webhook_secrets(settings, repo.keys) == {
        ids[hash_key("alpha")]: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ids[hash_key("beta")]: "plain:with:colons",
    }
    assert webhook_secrets(Settings(), repo.keys) == {}


def test_webhook_secrets_refuse_unknown_keys_and_missing_secrets(repo: JobStore) -> None:
    repo.keys.ensure(["alpha"])
    assert webhook_secrets(Settings(webhook_secrets="alpha:ok"), repo.keys) != {}
    # one loop, not one test each: the store is set up once per backend
    for setting in ["delta:secret", "alpha:", "alpha", "alpha:ok,:orphan", "alpha:ok,ALPHA:secret"]:
        with pytest.raises(ValueError, match="CINEFUSE_WEBHOOK_SECRETS"):
            webhook_secrets(Settings(webhook_secrets=setting), repo.keys)


# ------------------------------------------------------------------------------ source bugs


def test_an_empty_secret_file_is_never_the_signing_secret(tmp_path: Path) -> None:
    (tmp_path / "media.secret").touch(mode=0o600)
    try:
        secret = load_or_create_secret(Settings(data_dir=tmp_path))
    except ValueError:
        return  # refusing to start is a fix too
    assert secret.strip() != b""


@pytest.mark.parametrize("blank", ["file", "setting"])
def test_configured_keys_never_leave_the_server_without_a_key(tmp_path: Path, blank: str) -> None:
    if blank == "file":
        (tmp_path / KEY_FILE).write_text("\n")
        settings = Settings(data_dir=tmp_path)
    else:
        settings = Settings(data_dir=tmp_path, api_keys=" , ")
    try:
        keys, _ = configured_keys(settings)
    except ValueError:
        return  # refusing to start is a fix too
    assert keys and all(key.strip() for key in keys)
