"""A built wheel runs on its own: installed into a fresh venv, used outside the source tree.

The wheel is built offline from a copy of the sources with what ``make`` installed
(``pip wheel --no-deps --no-build-isolation``). The fresh venv gets no download: after the
wheel is installed, one ``.pth`` line puts the project venv's site-packages (the dependencies)
behind it. A line of a ``.pth`` file only adds a folder to ``sys.path``; the ``.pth`` files in
that folder are not run, so the editable finder that maps ``bot`` to this checkout stays off,
and the test shows that ``bot``, its flows and its catalogs come from the installed wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from bot.i18n.languages import LANGUAGES, catalog_dirname

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "bot", "flows", "locales")
EXAMPLES = ROOT / "tests" / "data" / "examples"
PROFILES = ("example-04", "example-05", "example-11")  # zh-Hans, ru, zh-Hant


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command; fail with its output; return its standard output."""
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def build_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the sources (the build writes its build/ folder there)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path / "wheels"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input")
    run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, ".",
        cwd=source)  # fmt: skip
    [wheel] = out.glob("trialbot-*.whl")
    return wheel


def fresh_venv(tmp_path: Path, wheel: Path) -> tuple[Path, Path]:
    """A new venv holding the wheel, with the project venv's packages behind it; return its
    python and its site-packages."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input")
    run(*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    site = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=venv)
        .strip()
    )  # fmt: skip
    # only now: pip, seeing the project's own (editable) trialbot, would have touched it
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "dependencies.pth").write_text("\n".join(sorted(deps)) + "\n", encoding="utf-8")
    return python, site


def test_a_built_wheel_replays_examples_outside_the_source_tree(tmp_path: Path) -> None:
    compiled = [
        ROOT / "locales" / catalog_dirname(lang) / "LC_MESSAGES" / "messages.mo"
        for lang in LANGUAGES
    ]
    missing = [str(p) for p in compiled if not p.is_file()]
    assert not missing, f"run `make catalogs` first; missing {missing}"
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    flows = sorted(p.name for p in (ROOT / "flows").glob("*.yaml"))
    assert flows and all(f"bot/_data/flows/{name}" in names for name in flows), flows
    for lang in LANGUAGES:
        assert f"bot/_data/locales/{catalog_dirname(lang)}/LC_MESSAGES/messages.mo" in names
    assert any(n.startswith("bot/storage/migrations/") for n in names)

    python, site = fresh_venv(tmp_path, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for profile in PROFILES:
        shutil.copy2(EXAMPLES / f"{profile}.json", elsewhere)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "FLOWS_DIR", "LOCALES_DIR", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env["PYTHONNOUSERSITE"] = "1"

    where = run(
        python,
        "-c",
        "import json, sys, bot, bot.engine.flow as f, bot.i18n.languages as l; "
        "print(json.dumps([bot.__file__, str(f.FLOWS_DIR), str(l.locales_dir()), "
        "sorted(m for m in sys.modules if 'editable' in m)]))",
        cwd=elsewhere,
        env=env,
    )
    module, flows_dir, locales_dir, editable = json.loads(where)
    installed = site.resolve() / "bot"
    for path in (module, flows_dir, locales_dir):
        assert Path(path).resolve().is_relative_to(installed), (path, installed)
        assert not Path(path).resolve().is_relative_to(ROOT), path
    assert editable == []  # this checkout's editable finder is not active

    out = run(python, "-m", "bot", "replay", *(f"{p}.json" for p in PROFILES),
              cwd=elsewhere, env=env)  # fmt: skip
    got = [json.loads(line) for line in out.splitlines()]
    lines = (EXAMPLES / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    expected = {row["id"]: row for row in map(json.loads, lines)}
    assert got == [expected[p] for p in PROFILES]

    database = f"sqlite+aiosqlite:///{elsewhere / 'bot.db'}"
    run(python, "-m", "bot", "db", "upgrade", cwd=elsewhere, env={**env, "DATABASE_URL": database})
    assert (elsewhere / "bot.db").is_file()  # the migrations shipped too
