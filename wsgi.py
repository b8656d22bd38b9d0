"""WSGI entry point: `gunicorn wsgi:app` or `flask --app wsgi run`."""
import gc

from academy import create_app

app = create_app()
# What importing and building the app made lives as long as the process: out of the garbage collector's full
# collections, which otherwise walked all of it (a tenth of a second, every thousand or so page views).
gc.freeze()
