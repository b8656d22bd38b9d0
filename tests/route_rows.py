"""Expected status per kind of caller, for the route × role matrix (tests/core/test_route_matrix.py).

Each feature lists its routes in a `tests/<feature>/routes_*.py` module as
ROUTES = {(endpoint, method): (url builder taking the world, row(...))}.
"""
PERSONAS = ("anon", "learner", "trainer", "manager_a", "manager_b", "admin")


def row(anon, learner, trainer, manager_a, manager_b, admin):
    return dict(zip(PERSONAS, (anon, learner, trainer, manager_a, manager_b, admin)))


EVERYONE_200 = row(200, 200, 200, 200, 200, 200)
SIGNED_IN_200 = row(302, 200, 200, 200, 200, 200)
ADMIN_200 = row(302, 403, 403, 403, 403, 200)
ANON_ONLY = row(200, 302, 302, 302, 302, 302)
REDIRECT_ALL = row(302, 302, 302, 302, 302, 302)
API_SIGNED_IN = row(401, 200, 200, 200, 200, 200)
