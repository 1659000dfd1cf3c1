"""The ASGI entry point uvicorn imports (``app.asgi:app``), built from the environment's settings."""
from app.main import create_app

app = create_app()
