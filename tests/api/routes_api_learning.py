from tests.route_rows import API_SIGNED_IN

ROUTES = {
    ("api.list_courses", "GET"): (lambda w: "/api/v1/courses", API_SIGNED_IN),
    ("api.my_progress", "GET"): (lambda w: "/api/v1/me/progress", API_SIGNED_IN),
}
