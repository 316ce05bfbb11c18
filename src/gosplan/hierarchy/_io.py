"""Writing the hierarchy's tables: CSV or Parquet, whole or streamed in batches, and summary.json."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from gosplan._json import json_ready

FORMATS = ("csv", "parquet")

Writer = Callable[[Path], None]


def check_format(format: str) -> str:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    return format


def json_writer(summary: Mapping[str, Any]) -> Writer:
    text = json.dumps(json_ready(summary), indent=2, allow_nan=False) + "\n"
    return lambda path: Path(path).write_text(text, encoding="utf-8")


def _header(names: list[str]) -> bytes:
    cell = lambda n: '"' + n.replace('"', '""') + '"' if any(c in n for c in ',"\r\n') else n
    return (",".join(cell(n) for n in names) + "\n").encode()


def _needs_quotes(table: pa.Table) -> bool:
    import pyarrow.compute as pc

    for column in table.columns:
        chunks = column.chunks
        if pa.types.is_dictionary(column.type):
            chunks = [c.dictionary for c in chunks]
        for chunk in chunks:
            if (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)) and len(chunk):
                if pc.any(pc.match_substring_regex(chunk, '[,"\\r\\n]')).as_py():
                    return True
    return False


class TableWriter:
    """Append Arrow tables to one CSV (header once, quotes only where a label needs them,
    nulls as empty cells) or Parquet (zstd) file."""

    def __init__(self, path: Path, format: str):
        self.path, self.format = Path(path), check_format(format)
        self._writer: Any = None
        self._fh: Any = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        table = table.replace_schema_metadata(None)
        if self.format == "parquet":
            import pyarrow.parquet as pq

            if self._writer is None:
                self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self._writer.write_table(table)
        else:
            import pyarrow.csv as pcsv

            if self._fh is None:
                self._fh = open(self.path, "wb")
                self._fh.write(_header(table.column_names))
            quoting = "needed" if _needs_quotes(table) else "none"
            pcsv.write_csv(
                table, self._fh,
                write_options=pcsv.WriteOptions(include_header=False, quoting_style=quoting),
            )
        self.rows += table.num_rows

    def close(self, schema: pa.Schema | None = None) -> None:
        """Finish the file; an empty table gets its header (``schema``) all the same."""
        if self._writer is None and self._fh is None and schema is not None:
            self.write(schema.empty_table())
        if self._writer is not None:
            self._writer.close()
        if self._fh is not None:
            self._fh.close()


def frame_writer(frame: pd.DataFrame, format: str) -> Writer:
    def write(path: Path) -> None:
        w = TableWriter(path, format)
        w.write(pa.Table.from_pandas(frame, preserve_index=False))
        w.close()

    return write


def batches_writer(batches: Callable[[], Iterable[pa.Table]], schema: pa.Schema, format: str) -> Writer:
    def write(path: Path) -> None:
        w = TableWriter(path, format)
        try:
            for table in batches():
                w.write(table)
        finally:
            w.close(schema)

    return write


def write_files(out: str | Path, files: Mapping[str, Writer]) -> list[Path]:
    """Write ``files`` ({name: writer(path)}) into directory ``out`` (created)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, writer in files.items():
        writer(out / name)
        paths.append(out / name)
    return paths
