"""HTTP layer: routers only translate between HTTP and app.compute; they do no arithmetic."""
