"""The ceiling of benchmarks/page_throughput.py: the smallest Flask application, served as the academy is."""
from flask import Flask

app = Flask(__name__)
app.get("/")(lambda: "Hello, World!")
