"""Per-system venvs under bench/.venvs (git-ignored), and the `chronoq@REF` baseline.

A venv is (re)installed when its requirements (or, for `-e` lines, the target's
pyproject.toml) change: a stamp file holds their hash. The baseline is the tree of a git
commit, extracted with `git archive` into bench/.baseline/SHA (git-ignored), installed
editable into bench/.venvs/chronoq@SHORT; it runs with the same runner file as chronoq.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
SYSTEMS_DIR = BENCH / "systems"
VENVS = BENCH / ".venvs"
BASELINES = BENCH / ".baseline"


def _install(venv: Path, req: Path, digest: str, label: str) -> Path:
    python = venv / "bin" / "python"
    stamp = venv / ".bench-stamp"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    if not python.exists():
        print(f"[{label}] creating venv", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    print(f"[{label}] pip install -r {req}", file=sys.stderr, flush=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(req)], cwd=SYSTEMS_DIR, check=True)
    stamp.write_text(digest + "\n")
    return python


def precompile(python: Path, tree: Path) -> None:
    """Byte-compile an editable install's source (`tree`/src) before a run. pip compiles
    what it installs into site-packages (every peer, chronoq's dependencies), but not an
    editable tree: under PYTHONDONTWRITEBYTECODE=1 (or a read-only tree) each worker
    process would compile chronoq's modules again at start-up, about 0.3 s of CPU
    that grows with the source and was counted as worker CPU. Up-to-date files are
    skipped; the bytecode goes where the interpreter will look for it (honouring
    PYTHONPYCACHEPREFIX)."""
    src = tree / "src"
    if src.is_dir():
        subprocess.run([str(python), "-m", "compileall", "-q", "-j", "0", str(src)], check=True)


def ensure_venv(name: str) -> Path:
    """The venv of system NAME from bench/systems/NAME.requirements.txt."""
    req = SYSTEMS_DIR / f"{name}.requirements.txt"
    h = hashlib.sha256(req.read_bytes())
    editable: list[Path] = []
    for line in req.read_text().splitlines():
        if line.strip().startswith("-e "):
            # editable installs: their dependencies can change, and a venv copied from
            # another checkout would still import that checkout's code
            target = (SYSTEMS_DIR / line.strip()[3:].strip()).resolve()
            editable.append(target)
            h.update(str(target).encode())
            if (target / "pyproject.toml").exists():
                h.update((target / "pyproject.toml").read_bytes())
    python = _install(VENVS / name, req, h.hexdigest(), name)
    for target in editable:
        precompile(python, target)
    return python


def git(*args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=BENCH.parent, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def resolve(ref: str) -> str:
    return git("rev-parse", "--verify", f"{ref}^{{commit}}")


def baseline_venv(sha: str, name: str) -> Path:
    """Extract commit `sha` (once) and install it editable into .venvs/NAME."""
    tree = BASELINES / sha
    if not (tree / "pyproject.toml").exists():
        print(f"[{name}] git archive {sha[:12]} -> {tree}", file=sys.stderr, flush=True)
        archive = ["git", "archive", "--format=tar", sha]
        data = subprocess.run(archive, cwd=BENCH.parent, check=True, capture_output=True).stdout
        tree.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(tree, filter="data")
    req = BASELINES / f"{sha}.requirements.txt"
    req.write_text(f"-e {tree}\n")
    python = _install(VENVS / name, req, f"baseline {sha}", name)
    precompile(python, tree)
    return python


def checkout_state() -> dict[str, str]:
    """The commit the bench runs from, and whether the work tree differs from it."""
    try:
        sha = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "src"))
    except (subprocess.CalledProcessError, OSError):
        return {"commit": "unknown", "src_dirty": "unknown"}
    return {"commit": sha, "src_dirty": "yes" if dirty else "no"}
