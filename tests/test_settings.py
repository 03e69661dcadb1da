"""Server settings (``cinefuse.settings.Settings``): read from ``CINEFUSE_*`` variables, with
refusals when they are read (an unknown engine, inverted safety thresholds, out-of-range
numbers) and the derived values (database URL, base URL, prices).

Expected defaults are docs/api.md's and docs/architecture.md's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from cinefuse.models.registry import MODELS
from cinefuse.settings import Settings, registered_engines


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read ``CINEFUSE_*`` variables: none from the caller's shell leak in."""
    for name in list(os.environ):
        if name.startswith("CINEFUSE_"):
            monkeypatch.delenv(name)


def test_variables_are_read_with_their_types(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = {
        "CINEFUSE_DATA_DIR": str(tmp_path),
        "CINEFUSE_PORT": "9123",
        "CINEFUSE_HOST": "0.0.0.0",
        "CINEFUSE_WORKERS": "0",
        "CINEFUSE_QUEUE_LIMIT": "25",
        "CINEFUSE_RATE_LIMIT": "2.5",
        "CINEFUSE_LEASE_SECONDS": "12.5",
        "CINEFUSE_JOB_TIMEOUT": "90",
        "CINEFUSE_DELIVERER": "false",
        "CINEFUSE_PROFILE": "distributed",
        "CINEFUSE_ENGINE": "preview",
        "CINEFUSE_SAFETY_BACKEND": "none",
        "CINEFUSE_PRICE_720P": "0.5",
        "CINEFUSE_OUTBOUND_ALLOW": "127.0.0.1,localhost",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert (settings.port, settings.host, settings.workers) == (9123, "0.0.0.0", 0)
    assert (settings.queue_limit, settings.rate_limit) == (25, 2.5)
    assert (settings.lease_seconds, settings.job_timeout) == (12.5, 90.0)
    assert (settings.deliverer, settings.profile, settings.engine) == (False, "distributed", "preview")
    assert settings.safety_backend == "none"
    assert settings.prices["720p"] == 0.5
    assert settings.outbound_allow == "127.0.0.1,localhost"


def test_unset_variables_give_the_documented_defaults() -> None:
    settings = Settings()
    assert (settings.profile, settings.engine, settings.host, settings.port) == ("embedded", "auto", "127.0.0.1", 8000)
    assert (settings.queue_limit, settings.rate_limit, settings.max_tasks_per_request) == (10_000, 0.0, 1_000)
    assert settings.max_body_bytes == 64 * 1024 * 1024
    assert (settings.default_ttl, settings.job_timeout, settings.max_attempts) == (86_400, 3_600.0, 3)
    assert (settings.webhook_max_tries, settings.webhook_backoff) == (8, 1.0)
    assert (settings.api_keys, settings.database_url, settings.media_secret) == (None, None, None)


def test_the_websocket_idle_timeout_outlasts_every_sdk_heartbeat() -> None:
    # The JavaScript SDK's heartbeat interval may be as long as 120 s (docs/api.md, Transport).
    assert Settings().ws_idle_timeout > 120


@pytest.mark.parametrize("engine", ["auto", "preview"])
def test_auto_and_registered_engines_are_accepted(monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    assert "preview" in registered_engines()
    assert Settings(engine=engine).engine == engine
    monkeypatch.setenv("CINEFUSE_ENGINE", engine)
    assert Settings().engine == engine


@pytest.mark.parametrize("engine", ["wan-2.1", "Preview", "", "none"])
def test_an_unknown_engine_is_refused_when_the_settings_are_read(monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    monkeypatch.setenv("CINEFUSE_ENGINE", engine)
    with pytest.raises(ValidationError) as info:
        Settings()
    message = str(info.value)
    assert "engine" in message and repr(engine) in message
    assert "preview" in message  # it names the choices


def test_a_tolerant_threshold_stricter_than_the_threshold_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINEFUSE_SAFETY_THRESHOLD", "0.7")
    monkeypatch.setenv("CINEFUSE_SAFETY_TOLERANT_THRESHOLD", "0.5")
    with pytest.raises(ValidationError, match="safety_tolerant_threshold"):
        Settings()
    monkeypatch.setenv("CINEFUSE_SAFETY_TOLERANT_THRESHOLD", "0.7")  # equal is fine
    assert (Settings().safety_threshold, Settings().safety_tolerant_threshold) == (0.7, 0.7)
    defaults = Settings(safety_threshold=0.6, safety_tolerant_threshold=0.8)
    assert defaults.safety_tolerant_threshold >= defaults.safety_threshold


def test_context_parallelism_refuses_what_cannot_run_across_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINEFUSE_CONTEXT_PARALLEL", "2")
    assert Settings().context_parallel == 2
    for backend in ("native", "flash", "_native_cudnn"):
        assert Settings(attention_backend=backend).attention_backend == backend
    with pytest.raises(ValidationError, match="attention_backend=xformers cannot shard attention"):
        Settings(attention_backend="xformers")
    with pytest.raises(ValidationError, match="cache=first_block decides from each rank's own tokens"):
        Settings(cache="first_block")
    assert Settings(cache="taylorseer").cache == "taylorseer"
    # The review's finding 5: MagCache's head hook saw the unsplit sequence, its tail a shard.
    with pytest.raises(ValidationError, match="cache=mag measures its residual on the first block's input"):
        Settings(cache="mag", cache_mag_ratios={"text": [1.0]})
    monkeypatch.setenv("CINEFUSE_CONTEXT_PARALLEL", "1")  # one GPU per clip: anything goes
    assert Settings(attention_backend="xformers", cache="first_block").cache == "first_block"


@pytest.mark.parametrize("gpus", [3, 5, 6, 7, 16])
def test_context_parallelism_needs_a_group_size_that_divides_every_sharded_model_s_heads(
    monkeypatch: pytest.MonkeyPatch, gpus: int
) -> None:
    """The review's finding 5: Ulysses attention gives each GPU whole heads (24 on the 5B, 40
    on the 14B models); 3 or 6 broke every FLF2V clip and 5 every TI2V clip, in a crash loop."""
    monkeypatch.setenv("CINEFUSE_CONTEXT_PARALLEL", str(gpus))
    with pytest.raises(ValidationError, match=r"does not divide the attention heads .* use 2, 4 or 8"):
        Settings()


@pytest.mark.parametrize("gpus", [2, 4, 8])
def test_context_parallel_groups_of_2_4_and_8_are_accepted(monkeypatch: pytest.MonkeyPatch, gpus: int) -> None:
    monkeypatch.setenv("CINEFUSE_CONTEXT_PARALLEL", str(gpus))
    assert Settings().context_parallel == gpus


def test_magcache_ratios_are_given_per_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The review's finding 10: one list served the 5B, both 14B models and LTX."""
    monkeypatch.setenv("CINEFUSE_CACHE", "mag")
    monkeypatch.setenv("CINEFUSE_CACHE_MAG_RATIOS", "[1.0, 0.98, 0.95]")
    with pytest.raises(ValidationError, match="calibrated per model, so one list cannot serve every model"):
        Settings()
    monkeypatch.setenv("CINEFUSE_CACHE_MAG_RATIOS", '{"Wan2.2-TI2V-5B-Diffusers": [1.0, 0.98], "fast": [1.0, 0.9]}')
    settings = Settings()
    assert settings.mag_ratios_for("Wan2.2-TI2V-5B-Diffusers", "text") == [1.0, 0.98]
    assert settings.mag_ratios_for("LTX-Video-0.9.8-13B-distilled", "fast") == [1.0, 0.9]
    assert settings.mag_ratios_for("Wan2.1-VACE-14B-diffusers", "references") is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CINEFUSE_CONTEXT_PARALLEL", "0"),
        ("CINEFUSE_PORT", "70000"),
        ("CINEFUSE_PORT", "eighty"),
        ("CINEFUSE_WORKERS", "-1"),
        ("CINEFUSE_DEFAULT_TTL", "59"),
        ("CINEFUSE_LEASE_SECONDS", "0"),
        ("CINEFUSE_SAFETY_THRESHOLD", "1.5"),
        ("CINEFUSE_SAFETY_BACKEND", "opencv"),
        ("CINEFUSE_PROFILE", "cluster"),
    ],
)
def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("CINEFUSE_").lower()):
        Settings()


def test_the_database_defaults_to_sqlite_in_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path / "d").resolved_database_url == f"sqlite:///{tmp_path / 'd' / 'cinefuse.db'}"
    monkeypatch.chdir(tmp_path)
    relative = Settings(data_dir=Path("rel"))
    assert relative.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'rel' / 'cinefuse.db'}"


def test_a_given_database_url_is_used_as_is(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = "postgresql+psycopg://cinefuse@db.internal:5432/cinefuse"
    monkeypatch.setenv("CINEFUSE_DATABASE_URL", url)
    assert Settings(data_dir=tmp_path).resolved_database_url == url


@pytest.mark.parametrize(
    ("public_url", "base_url"),
    [
        ("https://video.example.com/", "https://video.example.com"),
        ("https://video.example.com", "https://video.example.com"),
        ("https://example.com/cinefuse//", "https://example.com/cinefuse"),
        (None, "http://127.0.0.1:8000"),
    ],
)
def test_base_url_has_no_trailing_slash(public_url: str | None, base_url: str) -> None:
    assert Settings(public_url=public_url).base_url == base_url


def test_without_a_public_url_the_base_url_is_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CINEFUSE_HOST", "10.1.2.3")
    monkeypatch.setenv("CINEFUSE_PORT", "8443")
    assert Settings().base_url == "http://10.1.2.3:8443"


def test_prices_cover_every_tier_of_every_model_with_the_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    prices = Settings().prices
    assert prices == {"360p": 0.02, "540p": 0.03, "720p": 0.04, "1080p": 0.0598}  # docs/api.md, "Cost"
    for caps in MODELS.values():
        assert set(caps.resolutions) <= set(prices)
    monkeypatch.setenv("CINEFUSE_PRICE_1080P", "0.1")
    monkeypatch.setenv("CINEFUSE_PRICE_360P", "0")
    assert Settings().prices == {"360p": 0.0, "540p": 0.03, "720p": 0.04, "1080p": 0.1}
