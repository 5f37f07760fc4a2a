"""The web API serving the text recognizer: a Flask app (`api.app`), its Lambda entry point and deployment files."""
