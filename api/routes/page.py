"""The patient's web page at ``/`` (static files of ``api/web``; no authentication: the page
signs in and its data calls carry the bearer token).

Only the files listed here are served, from ``api/web`` and the charting library installed by
``npm ci --prefix api/web`` (uPlot, ``api/web/node_modules/uplot/dist``): no path from the
request reaches the file system. The page loads nothing from elsewhere (no CDN, no web font),
which the Content-Security-Policy also enforces.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.errors import Problem

router = APIRouter(include_in_schema=False)

WEB = Path(__file__).resolve().parents[1] / "web"
UPLOT = WEB / "node_modules" / "uplot" / "dist"
JS = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
FILES: dict[str, tuple[Path, str]] = {
    "app.js": (WEB / "app.js", JS),
    "api.js": (WEB / "api.js", JS),
    "charts.js": (WEB / "charts.js", JS),
    "i18n.js": (WEB / "i18n.js", JS),
    "sections.js": (WEB / "sections.js", JS),
    "app.css": (WEB / "app.css", CSS),
    "uPlot.iife.min.js": (UPLOT / "uPlot.iife.min.js", JS),
    "uPlot.min.css": (UPLOT / "uPlot.min.css", CSS),
}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/")
def index() -> FileResponse:
    return FileResponse(WEB / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/web/{name}")
def asset(name: str) -> FileResponse:
    found = FILES.get(name)
    if found is None:
        raise Problem(404, "not-found", "no such file")
    path, media_type = found
    if not path.is_file():
        raise Problem(404, "not-found", f"{name} is missing: run `npm ci --prefix api/web`")
    return FileResponse(path, media_type=media_type, headers=HEADERS)
