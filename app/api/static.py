"""Static files with cache headers. StaticFiles already answers If-None-Match with 304; this adds
Cache-Control so a browser does not even ask for plotly.js (1.5 MB) for a day, and revalidates the
project's own JS and CSS on every load (cheap 304s) so an edit is never stale. Nothing is gzipped
per request."""
from __future__ import annotations

from starlette.staticfiles import StaticFiles


class CachedStaticFiles(StaticFiles):
    def file_response(self, full_path, stat_result, scope, status_code=200):
        response = super().file_response(full_path, stat_result, scope, status_code)
        path = str(full_path).replace("\\\\", "/")
        kept = "/vendor/" in path or path.endswith("/favicon.svg")  # the icon: asked again at each URL change
        response.headers["Cache-Control"] = "public, max-age=86400" if kept else "no-cache"
        return response
