"""Whether a database holds the synthetic demo programme, so every page can say so.

The demo needs no marker of its own: ``build_programme`` always writes its national authority
as organisation ``NMAA`` of the fictional country "Demoland" (``OPERATORS`` in
:mod:`demine.synthetic.programme`), in demo files of every age. A real programme names a real
country, so the pair is a reliable sign, read with one lookup on a unique column.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from demine.storage import schema

AUTHORITY_CODE = "NMAA"
COUNTRY = "Demoland"
BANNER = "Synthetic demo data — not a real programme"


def is_synthetic_demo(conn: Connection) -> bool:
    """True when the register is the synthetic demo programme (``demine demo``)."""
    o = schema.organisation
    found = conn.execute(
        select(o.c.id).where(o.c.code == AUTHORITY_CODE, o.c.country == COUNTRY).limit(1)
    ).first()
    return found is not None
