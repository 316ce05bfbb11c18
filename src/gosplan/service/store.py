"""Economies of the bureau: from a stored spec (and an uploaded zip) to a library :class:`~gosplan.Economy`.

An economy row keeps *how to load it again* (its ``spec``), not the tables: a bundled name with
the options of its synthetic enterprises, or an uploaded zip of an economy directory
(docs/economy-format.md) kept in ``economy_files``. Any server (or Dask worker) rebuilds the same
economy from the spec with :func:`economy_from_spec`, which remembers the last few in-process.

Spec forms::

    {"bundled": "us-2022", "enterprises_per_product": 2.0, "ministries": None, "seed": 0}
    {"upload": "tiny.zip", "sha256": "..."}          # with the zip's bytes

Uploads are checked before anything is written (:func:`check_zip`) and extracted with the real
byte counts watched (:func:`safe_extract`): a zip bomb or a path out of the folder is a
:class:`BadEconomy`, never a file on disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
import tempfile
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

__all__ = ["BadEconomy", "economy_from_spec", "check_zip", "safe_extract", "parties_of", "describe",
           "bundled_names", "clear_cache", "CACHE_SIZE"]

CACHE_SIZE = 8
_CHUNK = 1 << 16


class BadEconomy(ValueError):
    """An economy that cannot be loaded: the message names what is wrong.

    ``status`` is the HTTP status the API answers with: 400 for a zip refused before
    extraction (not a zip, unsafe paths, limits), 422 for tables that are no economy or
    options that do not fit it.
    """

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


class _Limits:
    """The upload limits of :class:`~gosplan.service.settings.Settings` (defaults where absent)."""

    def __init__(self, settings: Any = None):
        from gosplan.service.settings import Settings

        default = Settings.__dataclass_fields__
        pick = lambda name: getattr(settings, name, None) if settings is not None else None  # noqa: E731
        self.max_unzipped_bytes = int(pick("max_unzipped_bytes") or default["max_unzipped_bytes"].default)
        self.max_zip_members = int(pick("max_zip_members") or default["max_zip_members"].default)
        self.max_zip_ratio = float(pick("max_zip_ratio") or default["max_zip_ratio"].default)


# --- zips ----------------------------------------------------------------------------------------

def _member_path(name: str) -> PurePosixPath:
    """The member's path, relative and inside the folder, or :class:`BadEconomy`."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":") or "\x00" in clean:
        raise BadEconomy(f"zip member {name!r} has an absolute path", 400)
    parts = [p for p in PurePosixPath(clean).parts if p not in ("", ".")]
    if ".." in parts:
        raise BadEconomy(f"zip member {name!r} points outside the folder ('..')", 400)
    return PurePosixPath(*parts) if parts else PurePosixPath()


def check_zip(data: bytes, settings: Any = None) -> list[zipfile.ZipInfo]:
    """The zip's members after checking everything the headers tell, before extracting anything.

    Refused (:class:`BadEconomy`, status 400): not a zip; more than ``max_zip_members``
    members; an absolute path or ``..``; a symbolic link; an encrypted member; declared
    sizes over ``max_unzipped_bytes`` in total; a member whose size over its compressed size
    is above ``max_zip_ratio``.
    """
    import io

    limits = _Limits(settings)
    if not data or not zipfile.is_zipfile(io.BytesIO(data)):
        raise BadEconomy("the upload is not a zip file (expected a zip of an economy directory)", 400)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise BadEconomy(f"the upload is not a readable zip file: {exc}", 400) from None
    if len(infos) > limits.max_zip_members:
        raise BadEconomy(f"the zip has {len(infos):,} members; at most {limits.max_zip_members:,} are accepted", 400)
    total = 0
    seen: set[PurePosixPath] = set()
    for info in infos:
        path = _member_path(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise BadEconomy(f"zip member {info.filename!r} is a symbolic link; links are not accepted", 400)
        if info.flag_bits & 0x1:
            raise BadEconomy(f"zip member {info.filename!r} is encrypted", 400)
        if info.is_dir():
            continue
        if path in seen or not path.parts:
            raise BadEconomy(f"zip member {info.filename!r} appears twice or has no name", 400)
        seen.add(path)
        total += info.file_size
        if total > limits.max_unzipped_bytes:
            raise BadEconomy(f"the zip unpacks to more than {limits.max_unzipped_bytes:,} bytes "
                             f"(at member {info.filename!r}); refused", 400)
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_zip_ratio:
            raise BadEconomy(f"zip member {info.filename!r} expands {ratio:,.0f} times "
                             f"(more than the limit of {limits.max_zip_ratio:g}); refused as a zip bomb", 400)
    return infos


def has_households(data: bytes) -> bool:
    """Whether an uploaded economy's zip holds household tables (``households.*``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return any(PurePosixPath(n).name.startswith("households.") for n in zf.namelist())
    except zipfile.BadZipFile:
        return False


def safe_extract(data: bytes, dest: Path, settings: Any = None) -> Path:
    """Extract the zip ``data`` into the folder ``dest`` safely; the economy directory inside it.

    :func:`check_zip` first; then each member is written by chunks, its real bytes counted
    against what its header declared and the total against ``max_unzipped_bytes`` (headers
    may lie). When every member sits in one top-level folder, that folder is the economy
    directory; otherwise ``dest`` itself.
    """
    import io

    limits = _Limits(settings)
    infos = check_zip(data, settings)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    total = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in infos:
            rel = _member_path(info.filename)
            target = root.joinpath(*rel.parts) if rel.parts else root
            if root != target and root not in target.parents:
                raise BadEconomy(f"zip member {info.filename!r} points outside the folder", 400)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        total += len(chunk)
                        if written > info.file_size:
                            raise BadEconomy(f"zip member {info.filename!r} unpacks to more than the "
                                             f"{info.file_size:,} bytes its header declares; refused", 400)
                        if total > limits.max_unzipped_bytes:
                            raise BadEconomy(f"the zip unpacks to more than {limits.max_unzipped_bytes:,} bytes "
                                             f"(at member {info.filename!r}); refused", 400)
                        out.write(chunk)
            except BadEconomy:
                raise
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
                raise BadEconomy(f"zip member {info.filename!r} cannot be read: {exc}", 400) from None
    tops = {_member_path(i.filename).parts[0] for i in infos if _member_path(i.filename).parts}
    files_at_top = any(len(_member_path(i.filename).parts) == 1 and not i.is_dir() for i in infos)
    if len(tops) == 1 and not files_at_top:
        return root / tops.pop()
    return root


# --- economies -----------------------------------------------------------------------------------

def bundled_names() -> list[str]:
    from gosplan.datasets import list_datasets

    return [d.name for d in list_datasets()]


_cache: OrderedDict[tuple[str, str], Any] = OrderedDict()
_cache_lock = threading.Lock()
_key_locks: dict[tuple[str, str], threading.Lock] = {}


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _key_locks.clear()


def _spec_key(spec: dict, data: bytes | None) -> tuple[str, str]:
    digest = hashlib.sha256(data).hexdigest() if data is not None else ""
    return json.dumps(spec, sort_keys=True, default=str), digest


def economy_from_spec(spec: dict, data: bytes | None = None, settings: Any = None) -> Any:
    """The :class:`~gosplan.Economy` a spec describes (see the module); :class:`BadEconomy` if it cannot be.

    The last :data:`CACHE_SIZE` economies are kept in-process, keyed by the spec's JSON and
    the SHA-256 of ``data``: the same economy object is returned again (do not change it).
    """
    if not isinstance(spec, dict):
        raise BadEconomy(f"an economy spec must be an object, got {type(spec).__name__}")
    key = _spec_key(spec, data)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:  # one load per spec at a time; the others wait for it and share it
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        economy = _load(spec, data, settings)
        with _cache_lock:
            _cache[key] = economy
            _cache.move_to_end(key)
            while len(_cache) > CACHE_SIZE:
                old, _ = _cache.popitem(last=False)
                _key_locks.pop(old, None)
        return economy


def _load(spec: dict, data: bytes | None, settings: Any) -> Any:
    if "bundled" in spec:
        return _load_bundled(spec)
    if "upload" in spec:
        if data is None:
            raise BadEconomy("an uploaded economy needs its zip's bytes")
        want = spec.get("sha256")
        if want and hashlib.sha256(data).hexdigest() != want:
            raise BadEconomy("the uploaded zip's SHA-256 does not match its spec")
        return _load_upload(data, settings)
    raise BadEconomy("an economy spec needs 'bundled' (a dataset name) or 'upload' (a zip)")


def _load_bundled(spec: dict) -> Any:
    import gosplan
    from gosplan.synth.enterprises import group_products, synth_enterprises

    unknown = set(spec) - {"bundled", "enterprises_per_product", "ministries", "seed"}
    if unknown:
        raise BadEconomy(f"unknown fields in a bundled economy's spec: {', '.join(sorted(unknown))}")
    name = spec["bundled"]
    names = bundled_names()
    if not isinstance(name, str) or name not in names:
        raise BadEconomy(f"unknown bundled economy {name!r}; bundled economies: {', '.join(names)}")
    per_product, ministries, seed = spec.get("enterprises_per_product"), spec.get("ministries"), spec.get("seed") or 0
    try:
        economy = gosplan.load(name)
        if per_product:
            n = economy.n_products
            if ministries is not None and not 1 <= int(ministries) <= n:
                raise BadEconomy(f"ministries must be between 1 and the number of products of {name} ({n}), "
                                 f"got {ministries}")
            economy = synth_enterprises(economy, per_product=float(per_product), ministries=ministries, seed=int(seed))
        elif ministries:
            n = economy.n_products
            if not 1 <= int(ministries) <= n:
                raise BadEconomy(f"ministries must be between 1 and the number of products of {name} ({n}), "
                                 f"got {ministries}")
            economy = economy.with_hierarchy(group_products(economy, int(ministries), seed=int(seed)))
    except BadEconomy:
        raise
    except (ValueError, ArithmeticError, gosplan.PlanningError) as exc:
        raise BadEconomy(f"cannot build {name}: {exc}") from None
    return economy


def _load_upload(data: bytes, settings: Any) -> Any:
    import gosplan

    with tempfile.TemporaryDirectory(prefix="gosplan-upload-") as tmp:
        folder = safe_extract(data, Path(tmp) / "economy", settings)
        try:
            return gosplan.load(folder)
        except Exception as exc:  # noqa: BLE001 - any reader failure on foreign files is the upload's fault
            text = str(exc).replace(str(folder), "<zip>").replace(tmp, "<zip>")
            raise BadEconomy(f"the zip holds no readable economy directory (docs/economy-format.md): "
                             f"{type(exc).__name__}: {text}") from None


# --- what the database keeps of an economy -------------------------------------------------------

def _ministry_names(economy: Any) -> list[str]:
    h = economy.hierarchy
    names = np.asarray(economy.product_names.astype(str), dtype=object)
    out = []
    for k in range(h.n_ministries):
        members = np.flatnonzero(h.product_ministry == k)
        first = [str(names[i]) for i in members[:2]]
        more = len(members) - len(first)
        out.append("; ".join(first) + (f" (+{more} more)" if more > 0 else "") if first else str(h.ministries[k]))
    return out


def parties_of(economy: Any) -> list[dict[str, Any]]:
    """The rows of the ``parties`` table for ``economy`` (without ``economy_id``).

    One row per ministry (``kind="ministry"``, its label; its name lists its first products)
    and per enterprise (``kind="enterprise"``, its ministry's and product's labels; its name
    is its product's name and its rank among that product's enterprises). Labels are strings.
    """
    h = economy.hierarchy
    if h is None:
        return []
    ministries = [str(m) for m in h.ministries]
    rows: list[dict[str, Any]] = [
        {"kind": "ministry", "label": m, "ministry": None, "product": None, "name": name[:10_000]}
        for m, name in zip(ministries, _ministry_names(economy))
    ]
    E = h.n_enterprises
    if E:
        products = [str(p) for p in economy.products]
        pnames = [str(n) for n in economy.product_names]
        ep = np.asarray(h.enterprise_product, dtype=np.int64)
        em = np.asarray(h.enterprise_ministry, dtype=np.int64)
        order = np.argsort(ep, kind="stable")
        rank = np.empty(E, dtype=np.int64)
        starts = np.r_[0, np.flatnonzero(np.diff(ep[order])) + 1]
        counts = np.diff(np.r_[starts, E])
        rank[order] = np.arange(E) - np.repeat(starts, counts) + 1
        labels = [str(e) for e in h.enterprises]
        rows.extend(
            {"kind": "enterprise", "label": labels[e], "ministry": ministries[em[e]], "product": products[ep[e]],
             "name": f"{pnames[ep[e]]} #{rank[e]}"}
            for e in range(E)
        )
    return rows


def describe(economy: Any) -> dict[str, Any]:
    """Title, units and sizes of ``economy`` (the economy row's columns)."""
    from gosplan.datasets import list_datasets

    meta = economy.meta
    titles = {d.name: d.title for d in list_datasets()}
    title = titles.get(meta.name) or (f"{meta.name} ({meta.year})" if meta.year else str(meta.name))
    h = economy.hierarchy
    return {
        "title": title,
        "units": str(meta.units)[:200],
        "n_products": int(economy.n_products),
        "n_ministries": 0 if h is None else int(h.n_ministries),
        "n_enterprises": 0 if h is None else int(h.n_enterprises),
    }
