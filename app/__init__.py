"""convlens: see and measure convolutions."""

__version__ = "0.1.0"
