"""Cached virtual environments holding the official Runware Python SDKs.

PyPI ``runware`` (WebSocket only) and ``runware-sdk`` (REST or WebSocket) both install
the import package ``runware``, so each lives in its own venv under
``<repo>/.venvs/<name>/`` (gitignored), or under ``$CINEFUSE_SDK_VENVS_DIR``.
A venv is built once (``python -m venv`` + pip) and reused while its marker file
records the same pinned requirements; a failed build leaves nothing behind.

The versions are the ones whose wire behaviour ``docs/sdk-wire-notes.md`` documents:
bump them together with that file.

Run ``python tests/integration/sdk_venvs.py`` to build (and import-check) both now.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENVS_DIR = REPO_ROOT / ".venvs"
VENVS_DIR_ENV = "CINEFUSE_SDK_VENVS_DIR"
MARKER_NAME = ".cinefuse-sdk-venv.json"
PIP_TIMEOUT_S = 600

#: venv name -> pinned requirements. ``runware`` 0.5.24 calls ``websockets.connect(...,
#: additional_headers=...)``, which only the asyncio client of websockets >= 14 accepts,
#: although its metadata allows >= 12.
SDK_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "runware": ("runware==0.5.24", "websockets>=14"),
    "runware-sdk": ("runware-sdk==1.8.0",),
}

#: distribution name checked by the import probe, per venv
SDK_DISTRIBUTION: dict[str, str] = {"runware": "runware", "runware-sdk": "runware-sdk"}


class SdkVenvUnavailable(RuntimeError):
    """The venv could not be built (typically: no network for pip). Tests skip on it."""


@dataclass(frozen=True)
class SdkVenv:
    name: str
    path: Path
    python: Path
    #: installed versions of the SDK distribution and of its key dependencies
    versions: dict[str, str]


def venvs_dir() -> Path:
    override = os.environ.get(VENVS_DIR_ENV)
    return Path(override).expanduser().resolve() if override else DEFAULT_VENVS_DIR


def _venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(cmd: list[str], what: str) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SdkVenvUnavailable(f"{what} failed: {exc}") from exc
    if proc.returncode != 0:
        raise SdkVenvUnavailable(f"{what} failed (exit {proc.returncode}):\n{_tail(proc.stdout + proc.stderr)}")
    return proc.stdout


_PROBE = """
import importlib.metadata as md, json, sys
import runware
names = [sys.argv[1], "websockets", "aiohttp", "httpx"]
out = {}
for n in names:
    try:
        out[n] = md.version(n)
    except md.PackageNotFoundError:
        pass
assert hasattr(runware, "Runware"), "runware.Runware missing"
print(json.dumps(out))
"""


def _probe(name: str, python: Path) -> dict[str, str]:
    out = _run([str(python), "-c", _PROBE, SDK_DISTRIBUTION[name]], f"import check of {name}")
    versions: dict[str, str] = json.loads(out.strip().splitlines()[-1])
    return versions


def _marker_matches(venv: Path, requirements: tuple[str, ...]) -> bool:
    marker = venv / MARKER_NAME
    if not marker.is_file() or not _venv_python(venv).exists():
        return False
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded.get("requirements") == list(requirements)


def ensure_sdk_venv(name: str) -> SdkVenv:
    """Return the venv for ``name`` (``runware`` or ``runware-sdk``), building it if needed.

    Raises :class:`SdkVenvUnavailable` when it cannot be built or imported.
    """
    requirements = SDK_REQUIREMENTS[name]
    base = venvs_dir()
    target = base / name
    if _marker_matches(target, requirements):
        python = _venv_python(target)
        return SdkVenv(name, target, python, _probe(name, python))

    base.mkdir(parents=True, exist_ok=True)
    # One builder at a time per venv: parallel test workers would otherwise replace a venv
    # another worker is running (the rename below removes what is in its way).
    with (base / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _marker_matches(target, requirements):
            _build(name, requirements, base, target)
    python = _venv_python(target)
    return SdkVenv(name, target, python, _probe(name, python))


def _build(name: str, requirements: tuple[str, ...], base: Path, target: Path) -> None:
    # Build beside the target and rename into place, so an interrupted or concurrent
    # build never leaves a half-installed venv that looks valid.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-building-", dir=base))
    try:
        _run([sys.executable, "-m", "venv", str(staging)], f"python -m venv for {name}")
        staging_python = _venv_python(staging)
        _run(
            [
                str(staging_python),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                *requirements,
            ],
            f"pip install {' '.join(requirements)}",
        )
        (staging / MARKER_NAME).write_text(json.dumps({"requirements": list(requirements)}))
        if target.exists():
            shutil.rmtree(target)
        try:
            staging.rename(target)
        except OSError:
            # Another process finished first; use its venv if it is complete.
            if not _marker_matches(target, requirements):
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    # The rename leaves bin/ console scripts pointing at the staging path; only
    # ``<venv>/bin/python`` (and ``python -m ...``) is used, which does not care.


def main() -> int:
    status = 0
    for name in SDK_REQUIREMENTS:
        try:
            venv = ensure_sdk_venv(name)
        except SdkVenvUnavailable as exc:
            print(f"{name}: UNAVAILABLE: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{name}: {venv.python} {json.dumps(venv.versions)}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())


def ensure_npm_package(spec: str, folder_name: str, *, esm: bool = False) -> Path:
    """``node_modules`` holding the npm package ``spec`` (``name@version``), installed once into
    ``<venvs dir>/<folder_name>`` and installed again when another version is there. ``esm``
    marks the folder's package.json as an ES module scope (scripts copied next to it import
    the package). Raises ``SdkVenvUnavailable`` without node and npm, or when npm fails."""
    if not (shutil.which("node") and shutil.which("npm")):
        raise SdkVenvUnavailable("node and npm are not installed")
    name, version = spec.rsplit("@", 1)
    folder = venvs_dir() / folder_name
    installed = folder / "node_modules" / name / "package.json"
    if installed.is_file() and json.loads(installed.read_text()).get("version") == version:
        return folder / "node_modules"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text('{"private": true, "type": "module"}\n' if esm else '{"private": true}\n')
    proc = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--no-save", spec],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0 or not installed.is_file():
        raise SdkVenvUnavailable(f"npm install {spec} failed (network needed): {proc.stderr[-2000:]}")
    return folder / "node_modules"
