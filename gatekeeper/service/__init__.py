"""The HTTP service (`gatekeeper serve`): a thin FastAPI shell over the Gatekeeper API object.

The web framework lives here and nowhere else; the CLI imports this package only inside
`gatekeeper serve`. See docs/service.md.
"""
