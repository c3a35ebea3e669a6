"""Reporting: machine description, markdown tables, generated blocks in docs/PERFORMANCE.md.

Each script owns one named block between two HTML comments under its own
"## " title. `update_block` rewrites only that block: hand-written text
before and after it (a "Findings" note, for instance) and other scripts'
sections are kept.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Sequence
from pathlib import Path

import psycopg

from benchmarks.lib.common import DOCS, dsn


def machine_info(dbname: str) -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    with psycopg.connect(dsn(dbname)) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
        migration = ", ".join(r[0] for r in conn.execute("SELECT version_num FROM alembic_version").fetchall())
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('shared_buffers', 'synchronous_commit', 'max_connections', 'fsync')").fetchall())
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram": ram,
        "postgresql": pg_version,
        "pg_settings": settings,
        "migration": migration,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def machine_lines(machine: dict) -> list[str]:
    """The "Machine" bullet list."""
    pg = machine["pg_settings"]
    return [
        f"- nproc: {machine['nproc']}; CPU: {machine['cpu']}; RAM: {machine['ram']}; kernel {machine['kernel']}",
        f"- PostgreSQL {machine['postgresql']} on 127.0.0.1 (shared_buffers={pg.get('shared_buffers')} x 8 kB, "
        f"synchronous_commit={pg.get('synchronous_commit')}, fsync={pg.get('fsync')}); Redis on 127.0.0.1",
        f"- Python {machine['python']}; the load generator, gunicorn, PostgreSQL and Redis share the same "
        f"{machine['nproc']} cores",
    ]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """A markdown table; `align` has one letter per column: l (default), r or c."""
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    spec = align.ljust(len(headers), "l")
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(marks[a] for a in spec) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def block_markers(name: str) -> tuple[str, str]:
    """The begin and end comments of a generated block, e.g. name "benchmarks/api.py"."""
    return f"<!-- {name}: begin (generated, edits are overwritten) -->", f"<!-- {name}: end -->"


def replace_block(text: str, title: str, name: str, body: str) -> str:
    """`text` with the named block set to `body`.

    An existing block is replaced in place. Otherwise the block goes right
    under `title` when that heading exists, or at the end with its title.
    """
    begin, end = block_markers(name)
    block = f"{begin}\n\n{body.strip()}\n\n{end}"
    if begin in text and end in text:
        start = text.index(begin)
        stop = text.index(end, start) + len(end)
        return text[:start] + block + text[stop:]
    heading = f"\n{title}\n"
    if heading in f"\n{text}":
        at = f"\n{text}".index(heading) + len(heading) - 1
        return text[:at] + "\n" + block + "\n" + text[at:]
    return text.rstrip() + f"\n\n{title}\n\n{block}\n"


def update_block(title: str, name: str, body: str, path: Path = DOCS) -> None:
    """Rewrite the named block of docs/PERFORMANCE.md (created when missing), keeping everything else."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text() if path.exists() else "# Performance\n"
    path.write_text(replace_block(text, title, name, body).rstrip() + "\n")
