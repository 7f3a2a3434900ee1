"""Which official reports demine writes and the file formats they come in.

Kept apart from the builders and renderers (which load SQLAlchemy, matplotlib, WeasyPrint and
openpyxl) so that the command line can offer the choices without loading any of them.
"""

from __future__ import annotations

KINDS = ("monthly", "annual", "article7")
TITLES = {
    "monthly": "Monthly operations report",
    "annual": "Annual national mine action report",
    "article7": "Article 7 report (Ottawa Convention): anti-personnel mines",
}
FORMATS = ("pdf", "html", "xlsx")
