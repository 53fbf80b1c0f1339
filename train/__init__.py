"""Training recipes for vidaesthetic's aesthetic-space model (not installed with the library)."""
