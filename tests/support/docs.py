"""The SQL examples of the README and the documentation, as a reader copies them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.DOTALL)


def documents() -> list[Path]:
    """README.md, then every page of docs/, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def sql_statements() -> list[str]:
    """Every statement of every ```sql block, in order."""
    return [
        part.strip()
        for path in documents()
        for block in SQL_BLOCK.findall(path.read_text(encoding="utf-8"))
        for part in block.split(";")
        if part.strip()
    ]
