"""How records enter and change in the register.

* :mod:`.payloads` — the JSON shape of each kind of record a user can send;
* :mod:`.kinds` — writing a payload through the register's validated ``add_*`` functions (or
  :func:`~demine.landrelease.accounting.record_release`), with an audit row, or dry-running it;
* :mod:`.submissions` — the approval workflow: an operator's record waits as a submission
  (submitted → verified → approved, or rejected back to its author) and is written to the
  register only on approval, so the register holds approved records only;
* :mod:`.records` — changing and restoring existing records with optimistic concurrency
  (a version number per record) and an audit row in the same transaction.
"""
