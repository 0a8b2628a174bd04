"""The chat widget's static files (widget.js, the demo page), served by ``ragchat.api.routes.web``."""
