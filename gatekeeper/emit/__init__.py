"""Turning results into text: terminal lines, JSON objects, Markdown (one module per output)."""
