"""Request bodies the API cannot parse are the client's error (400), however they fail."""

import json

from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser


class BodyParser(FlaskParser):
    """webargs' parser, with every body that JSON cannot turn into Python refused as invalid JSON.

    webargs answers 400 only for a JSONDecodeError. Two more errors come from well-formed JSON: RecursionError for
    nesting deeper than the interpreter's recursion limit ("[" * 3000), and ValueError for an integer longer than its
    4,300-digit conversion limit; both were 500s."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise  # webargs' own handling: an empty body is a missing one, anything else 400
        except (RecursionError, ValueError) as error:
            self._handle_invalid_json_error(error, req)


class ApiBlueprint(Blueprint):
    """flask-smorest's blueprint, parsing request bodies with BodyParser."""

    ARGUMENTS_PARSER = BodyParser()
