"""Field forms: XLSForms for ODK, KoboToolbox and Survey123, and their submissions coming back.

* :mod:`.spec` — the forms, declared once (questions, bounds, relevance, choice lists);
* :mod:`.build` — XLSForm workbooks from the spec and the database's current code lists;
* :mod:`.exports` — reading KoboToolbox and ODK Central exports (XLSX, CSV, GeoJSON, CSV zip);
* :mod:`.convert` — an exported submission as workflow payloads, value by value;
* :mod:`.ingest` — staging them as workflow submissions awaiting review, idempotently;
* :mod:`.synthetic` — Kobo/ODK exports made from the demo programme, for tests and benchmarks.
"""
