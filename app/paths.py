"""Where the non-Python files live: templates/ and static/ beside app/, plotly.js inside its package."""
from pathlib import Path

import plotly

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
PLOTLY_JS_DIR = Path(plotly.__file__).resolve().parent / "package_data"  # holds plotly.min.js
