"""The browser interface: map, dashboards, data entry and review, the planner.

Server-rendered Jinja2 pages (``templates/``) with a few small plain-JavaScript modules
(``static/js/``) and MapLibre GL JS vendored under ``static/vendor/`` (no CDN, no build step).
Pages read the register through the same library functions as the REST API; changes go
through the REST API itself (the approval workflow, If-Match editing, restore), called from
the page with the session cookie and its CSRF token, so the browser gets exactly the API's
rules and its field-by-field problems.

:func:`demine.web.routes.install` adds the pages to the FastAPI application.
"""
