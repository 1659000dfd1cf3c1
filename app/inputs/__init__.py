"""Turning a request's input choice (sample, random spec, upload) into a float32 (C, H, W) tensor."""
