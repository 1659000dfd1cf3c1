"""Whole networks: ONNX import (parse only), the built-in trained model, and the service the API calls."""
