"""Schemathesis hooks that reach the write paths: each change is sent to a real record with its
current ETag in ``If-Match``.

Without them every generated PATCH, PUT and DELETE carried a made-up id or no valid
``If-Match`` and stopped at 404 or 428, so validation and storage of real edits were never
exercised (a date edit on every record type was a 500 that way). Loaded by the ``schemathesis``
command through ``SCHEMATHESIS_HOOKS``; the server and token come from ``DEMINE_FUZZ_URL`` and
``DEMINE_FUZZ_TOKEN``.
"""

from __future__ import annotations

import os
import random
from typing import Any

import httpx
import schemathesis

URL = os.environ.get("DEMINE_FUZZ_URL", "")
TOKEN = os.environ.get("DEMINE_FUZZ_TOKEN", "")
_ids: dict[str, list[int]] = {}
_rng = random.Random(20261203)


def _client() -> httpx.Client:
    return httpx.Client(base_url=URL, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)


def _record_ids(collection: str) -> list[int]:
    if collection not in _ids:
        with _client() as client:
            page = client.get(collection, params={"limit": 50})
        body = page.json() if page.status_code == 200 else {}
        items = body.get("features") or body.get("items") or []
        _ids[collection] = [int(i["id"]) for i in items if "id" in i]
    return _ids[collection]


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    if case.method.upper() not in ("PATCH", "PUT", "DELETE", "POST") or not URL:
        return
    template: str = case.operation.path
    for name in ("record_id", "submission_id"):
        marker = "{" + name + "}"
        if marker not in template:
            continue
        collection = template.split(marker)[0].rstrip("/")
        ids = _record_ids(collection)
        if not ids or _rng.random() < 0.2:  # keep some made-up ids: 404s must stay 404s
            return
        record_id = _rng.choice(ids)
        case.path_parameters[name] = record_id
        filled = template.replace(marker, str(record_id))
        current_path = filled[: filled.index(str(record_id)) + len(str(record_id))]
        with _client() as client:
            current = client.get(current_path)
        if current.status_code == 200 and "etag" in current.headers:
            case.headers = dict(case.headers or {}) | {"If-Match": current.headers["etag"]}
        return


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    # A tally of the answers to changes sent with a current ETag, so the test can tell that the
    # write paths were really reached (and not all refused before validation).
    tally = os.environ.get("DEMINE_FUZZ_TALLY")
    if tally and (case.headers or {}).get("If-Match"):
        with open(tally, "a") as out:
            out.write(f"{case.method.upper()} {case.operation.path} {response.status_code}\n")
