"""Many identical requests at the same moment against a real gunicorn: each change takes effect exactly once.

Four worker processes of four threads each serve one database: PostgreSQL when TEST_DATABASE_URL is set (as
`scripts/ci-services` does), else an SQLite file in WAL mode. Every burst leaves from kept-alive connections spread
over several workers, released together by a barrier, so the requests race in separate processes and transactions.
"""
import http.client
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.cookies import SimpleCookie
from random import Random
from urllib.parse import urlencode

import psutil
import pytest
from flask import current_app, session
from flask_wtf.csrf import generate_csrf

from academy import create_app
from academy.accounts.models import Role, Track, User, UserRole
from academy.core.models import AuditEvent
from academy.extensions import db
from academy.institutions import bulk
from academy.institutions.models import BulkImport
from academy.learning import quiz
from academy.learning import services as learning
from academy.learning.models import Certificate, Course, Enrolment, QuizAttempt
from academy.learning.sync import sync_content
from academy.organisations.services import ensure_countries
from academy.tabletop import engine
from academy.tabletop import services as tabletop
from academy.tabletop.models import Scenario, SessionEvent
from academy.tabletop.scenario_sync import sync_scenarios
from tests import factories
from tests.conftest import build_settings
from tests.content_fixture import ContentFolder
from tests.learning.test_quiz import answers_for
from tests.server_process import ROOT, ServerProcess
from tests.tabletop.scenario_fixture import ScenarioFolder

SECRET = "concurrency-test-secret"
WORKERS, THREADS = 4, 4  # up to 16 requests of a burst in flight at once, in 4 processes
BURST = 50
POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
INJECT, OPTION = "alert-bank-portal", "call-neighbour"


# --- The database, a mail sink and the server -------------------------------------------------------------------

@pytest.fixture(scope="module")
def race_app(tmp_path_factory):
    """The app the tests write their cast with, on the database the server uses; emptied afterwards."""
    root = tmp_path_factory.mktemp("concurrency")
    url = os.environ["TEST_DATABASE_URL"] if POSTGRES else f"sqlite:///{root / 'race.db'}"
    app = create_app(build_settings(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=SECRET))
    with app.app_context():
        db.drop_all()
        db.create_all()
        ensure_countries()
        sync_content(ContentFolder(root).folder)
        sync_scenarios(ScenarioFolder(root).folder, {"first-module"})
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def context(race_app):
    """An application context for the test's own reads and writes."""
    with race_app.app_context():
        yield race_app
        db.session.remove()


class Mailbox(socketserver.ThreadingTCPServer):
    """A bare SMTP server on a free port that keeps the recipient of every message it accepts."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.recipients: list[str] = []
        self.lock = threading.Lock()

    def received(self, domain: str) -> Counter:
        with self.lock:
            return Counter(address for address in self.recipients if address.endswith("@" + domain))


class _SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self._reply("220 sink")
        recipients = []
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"RCPT":
                recipients.append(line.split(b":", 1)[1].strip(b" <>\r\n").decode())
            elif verb == b"DATA":
                self._reply("354 end with a dot")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                with self.server.lock:
                    self.server.recipients.extend(recipients)
                recipients = []
            elif verb == b"QUIT":
                self._reply("221 bye")
                return
            self._reply("250 ok")  # EHLO, MAIL, RCPT and the end of DATA

    def _reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")


@pytest.fixture(scope="module")
def mailbox():
    sink = Mailbox()
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    yield sink
    sink.shutdown()
    sink.server_close()


@pytest.fixture(scope="module")
def academy_env(race_app, mailbox) -> dict[str, str]:
    """The environment of the server and of its job worker (which sends the mail), with a job queue of their own."""
    return {"DATABASE_URL": race_app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": SECRET,
            "ACADEMY_ENV": "development", "REDIS_URL": "", "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(mailbox.server_address[1]), "MAIL_USERNAME": "",
            "JOBS_QUEUE_NAME": f"race-{os.getpid()}-{time.time_ns()}"}


@pytest.fixture(scope="module")
def jobs_worker(academy_env, tmp_path_factory):
    """`flask jobs worker` beside the server, as in production."""
    log = tmp_path_factory.mktemp("jobs") / "worker.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker"], cwd=ROOT,
                                   env={**os.environ, **academy_env}, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    yield log
    os.killpg(process.pid, signal.SIGINT)  # the consumer finishes its jobs and stops
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def server(academy_env, jobs_worker, tmp_path_factory):
    """The academy under gunicorn: four worker processes of four threads, each with its own database connections."""
    folder = tmp_path_factory.mktemp("gunicorn")
    env = {**academy_env,
           "XDG_RUNTIME_DIR": str(folder),  # gunicorn's control socket: else one path for every gunicorn running
           # Threads, not gevent (tests/tabletop/test_multiworker.py runs that): on SQLite a waiting writer would
           # stall a whole gevent worker, and with threads the app loads once before the fork: a shorter start.
           "GUNICORN_CMD_ARGS": f"--threads {THREADS} --preload"}
    process = ServerProcess(env, folder / "server.log", workers=WORKERS, worker_class="gthread")
    process.start()
    try:
        yield Server(process)
    finally:
        process.kill()  # every burst has been answered and checked, and a worker's orderly exit takes seconds


@dataclass
class Request:
    path: str
    form: dict
    cookie: str
    json: bool = False


@dataclass
class Answer:
    status: int
    location: str | None
    cookie: str | None
    body: str
    worker: int | None = None

    @property
    def flashes(self) -> list[str]:
        """The flash messages the response put in its session cookie."""
        morsel = SimpleCookie(self.cookie).get("session") if self.cookie else None
        if morsel is None or not morsel.value:
            return []
        return [message for _category, message in _serializer().loads(morsel.value).get("_flashes", [])]


class Server:
    """Bursts of requests at the server, each request on a connection of its own."""

    def __init__(self, process: ServerProcess):
        self.process, self.port = process, process.port

    def _workers(self) -> dict[int, int]:
        """The worker pid holding each client port connected to the server."""
        held = {}
        for worker in psutil.Process(self.process.process.pid).children():
            for connection in worker.net_connections(kind="tcp"):
                if connection.raddr and connection.laddr.port == self.port:
                    held[connection.raddr.port] = worker.pid
        return held

    def _port_of(self, connection: http.client.HTTPConnection) -> int | None:
        return connection.sock.getsockname()[1] if connection.sock else None

    def _open(self, connections: list[http.client.HTTPConnection], count: int) -> None:
        """Add kept-alive connections, each answered once, until there are `count` held by several workers."""
        for _ in range(30):  # a worker may take every new connection for a while; retrying soon spreads them
            while len(connections) < count:
                connections.append(http.client.HTTPConnection("127.0.0.1", self.port, timeout=60))
                connections[-1].request("GET", "/healthz")
                connections[-1].getresponse().read()
            held = self._workers()
            if len({held.get(self._port_of(connection)) for connection in connections} - {None}) > 1:
                return
            while len(connections) > count // 2:  # the first half stays: new ones may land elsewhere
                connections.pop().close()
        raise AssertionError(f"every connection went to one worker:\n{self.process.tail()}")

    def burst(self, requests: list[Request]) -> list[Answer]:
        """Send every request at the same moment, each on its own connection, and collect the answers."""
        db.session.commit()  # the test's own writes are in before the burst; what it reads afterwards is fresh
        connections: list[http.client.HTTPConnection] = []
        try:
            self._open(connections, len(requests))
            answers = _race(requests, connections)
            held = self._workers()
            for answer, connection in zip(answers, connections):
                answer.worker = held.get(self._port_of(connection))
        finally:
            for connection in connections:
                connection.close()
        db.session.expire_all()
        assert all(answer.status < 500 for answer in answers), self.process.tail()
        assert len({answer.worker for answer in answers} - {None}) > 1, "the burst stayed on one worker"
        return answers

def _race(requests: list[Request], connections: list[http.client.HTTPConnection]) -> list[Answer]:
    """One thread per request, all released by one barrier; the answers in the order of the requests."""
    barrier = threading.Barrier(len(requests))
    answers: list[Answer | None] = [None] * len(requests)

    def send(index: int) -> None:
        request, connection = requests[index], connections[index]
        headers = {"Cookie": f"session={request.cookie}", "Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/json" if request.json else "text/html"}
        body = urlencode(request.form, doseq=True)
        barrier.wait()
        connection.request("POST", request.path, body=body, headers=headers)
        response = connection.getresponse()
        answers[index] = Answer(response.status, response.getheader("Location"), response.getheader("Set-Cookie"),
                                response.read().decode())

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert None not in answers, "a request got no answer"
    return answers


def _serializer():
    return current_app.session_interface.get_signing_serializer(current_app)


def session_cookie(user=None, guest=None) -> tuple[str, str]:
    """A signed session cookie (signed in as `user`, or holding a guest's token) and its CSRF token."""
    with current_app.app_context(), current_app.test_request_context():  # a fresh g: generate_csrf caches there
        if user is not None:
            session["_user_id"], session["_fresh"] = user.get_id(), True
        if guest is not None:
            session["guest_participants"] = {str(guest.session_id): guest.guest_token}
        token = generate_csrf()
        return _serializer().dumps(dict(session)), token


# --- Quizzes ----------------------------------------------------------------------------------------------------

def _learner_before_the_last_step(email: str):
    """An enrolled learner who has read every lesson: passing the quiz completes the course."""
    course = db.session.scalar(db.select(Course).where(Course.slug == "intro-course"))
    learner = factories.make_user(email)
    enrolment = learning.enrol(learner, course)
    for lesson in learning.course_lessons(course):
        learning.mark_done(learner, enrolment, lesson)
    db.session.commit()
    return learner, course, course.modules[0]


def test_fifty_starts_of_a_quiz_open_one_attempt(server, context):
    learner, course, module = _learner_before_the_last_step("starter@race.example")
    cookie, token = session_cookie(learner)
    path = f"/courses/{course.slug}/modules/{module.slug}/quiz/start"

    answers = server.burst([Request(path, {"csrf_token": token}, cookie)] * BURST)

    attempts = db.session.scalars(db.select(QuizAttempt).where(QuizAttempt.user_id == learner.id)).all()
    assert [(attempt.number, attempt.is_open) for attempt in attempts] == [(1, True)]
    assert {(answer.status, answer.location) for answer in answers} == {(302, f"/quiz/attempts/{attempts[0].id}")}
    assert quiz.status_for(learner, module).used == 1


def test_fifty_submissions_of_one_attempt_record_one_result_and_one_certificate(server, context):
    learner, course, module = _learner_before_the_last_step("submitter@race.example")
    attempt = quiz.start_attempt(learner, module, Random(7))
    db.session.commit()
    cookie, token = session_cookie(learner)
    form = {"csrf_token": token, **answers_for(attempt)}

    answers = server.burst([Request(f"/quiz/attempts/{attempt.id}", form, cookie)] * BURST)

    assert {(answer.status, answer.location) for answer in answers} == {(302, f"/quiz/attempts/{attempt.id}")}
    told = Counter(message for answer in answers for message in answer.flashes)
    assert told == {"You passed with 100%.": 1, "Course complete! Your certificate is ready.": 1}
    attempts = db.session.scalars(db.select(QuizAttempt).where(QuizAttempt.user_id == learner.id)).all()
    assert [(a.id, a.number, a.score, a.passed) for a in attempts] == [(attempt.id, 1, 100, True)]
    assert quiz.status_for(learner, module).used == 1
    certificates = db.session.scalars(db.select(Certificate).where(Certificate.user_id == learner.id)).all()
    assert [certificate.course_id for certificate in certificates] == [course.id]
    assert learning.enrolment_for(learner, course).completed_at is not None


# --- Decisions in a live session --------------------------------------------------------------------------------

def _session_with_guests(count: int, role: str = "cert"):
    """A paused session whose first inject (to cert and operator, with a decision) is out, and guests in `role`."""
    trainer = factories.make_user(roles=(Role.TRAINER,), institution=None, track=None)
    scenario = db.session.scalar(db.select(Scenario).where(Scenario.slug == "fixture-scenario"))
    live = tabletop.create_session(trainer, scenario, "Race", allow_guests=True)
    guests = []
    for n in range(count):
        guest = tabletop.join(live, guest_name=f"Guest {n}", guest_institution="Race")
        tabletop.assign_role(live, guest, role, trainer)
        guests.append(guest)
    tabletop.run_command(live, "start", trainer)
    tabletop.release(live, INJECT, "next", trainer)
    tabletop.run_command(live, "pause", trainer)
    db.session.commit()
    return live, guests


def _decision(live, guest) -> Request:
    cookie, token = session_cookie(guest=guest)
    form = {"csrf_token": token, "inject_id": INJECT, "option": OPTION, "rationale": f"{guest.name} calls now."}
    return Request(f"/exercises/play/{live.id}/decisions", form, cookie, json=True)


def _decided(live) -> Counter:
    """How many decision events the log holds, per participant."""
    rows = db.session.scalars(db.select(SessionEvent).where(SessionEvent.session_id == live.id,
                                                            SessionEvent.kind == engine.DECIDED))
    return Counter(row.payload["participant_id"] for row in rows)


def test_fifty_copies_of_one_decision_are_recorded_once(server, context):
    live, (guest,) = _session_with_guests(1)

    answers = server.burst([_decision(live, guest)] * BURST)

    assert Counter(answer.status for answer in answers) == {200: 1, 409: BURST - 1}
    refused = {answer.body for answer in answers if answer.status == 409}
    assert len(refused) == 1 and "your first answer counts" in refused.pop()
    assert _decided(live) == {guest.id: 1}


def test_participants_of_one_role_deciding_at_once_are_each_recorded_once(server, context):
    # A decision belongs to the participant, not to the role (engine.check_decision): everyone in the role answers.
    live, guests = _session_with_guests(BURST // 2)

    answers = server.burst([_decision(live, guest) for guest in guests for _copy in range(2)])

    statuses = [sorted(answer.status for answer in answers[2 * n:2 * n + 2]) for n in range(len(guests))]
    assert statuses == [[200, 409]] * len(guests), {a.body[:200] for a in answers if a.status not in (200, 409)}
    assert _decided(live) == {guest.id: 1 for guest in guests}


# --- Bulk enrolment from CSV ------------------------------------------------------------------------------------

@dataclass
class Staff:
    """An institution with its managers and a CSV file: newcomers to invite and members not yet enrolled."""

    institution: object
    managers: list
    newcomers: list[str]
    members: list[str]

    @property
    def csv(self) -> bytes:
        rows = [f"{email},Person {n},cert,intro-course" for n, email in enumerate(self.newcomers + self.members)]
        return ("email,name,track,courses\n" + "\n".join(rows) + "\n").encode()

    @property
    def imported(self) -> str:
        return (f"Import complete: {len(self.newcomers)} people invited, "
                f"{len(self.newcomers) + len(self.members)} enrolments added.")


def _staff(domain: str, managers: int, newcomers: int, members: int) -> Staff:
    institution = factories.make_institution(f"Race {domain}")
    bosses = [factories.make_user(f"manager{n}@{domain}", roles=(Role.MANAGER,), institution=institution)
              for n in range(managers)]
    staff = [factories.make_user(f"member{n}@{domain}", institution=institution, track=Track.CERT).email
             for n in range(members)]
    db.session.commit()
    return Staff(institution, bosses, [f"new{n}@{domain}" for n in range(newcomers)], staff)


def _confirmations(staff: Staff, manager, copies: int) -> tuple[BulkImport, list[Request]]:
    """The manager's upload of the file, and `copies` identical confirmations of what its preview showed."""
    rows = bulk.parse_csv(staff.csv)
    upload = bulk.store_upload(staff.institution, manager, "staff.csv", rows)
    form = {"fingerprint": bulk.check_rows(staff.institution, rows).fingerprint}
    db.session.commit()
    cookie, form["csrf_token"] = session_cookie(manager)
    path = f"/institutions/{staff.institution.id}/enrolments/imports/{upload.id}/confirm"
    return upload, [Request(path, form, cookie)] * copies


def _assert_imported_once(staff: Staff, mailbox: Mailbox) -> None:
    """Everyone in the file once, in the institution, a learner enrolled once, invited once; one audit entry."""
    course = db.session.scalar(db.select(Course).where(Course.slug == "intro-course"))
    people = db.session.execute(db.select(User.id, User.institution_id).where(
        db.func.lower(User.email).in_(staff.newcomers + staff.members))).all()
    assert len(people) == len(staff.newcomers + staff.members)  # the e-mail is unique: no second row can exist
    assert {institution_id for _id, institution_id in people} == {staff.institution.id}
    ids = Counter(user_id for user_id, _institution in people)
    assert Counter(db.session.scalars(db.select(Enrolment.user_id).where(
        Enrolment.user_id.in_(ids), Enrolment.course_id == course.id))) == ids
    assert Counter(db.session.scalars(db.select(UserRole.user_id).where(UserRole.user_id.in_(ids)))) == ids
    domain = staff.managers[0].email.split("@")[1]
    deadline = time.monotonic() + 30  # the job worker sends the invitations after the request
    while mailbox.received(domain) != Counter(staff.newcomers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mailbox.received(domain) == Counter(staff.newcomers)
    audits = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "enrolment.import",
                                                            AuditEvent.institution_id == staff.institution.id))
    assert [(a.detail["invited"], a.detail["enrolments"]) for a in audits] == [
        (len(staff.newcomers), len(staff.newcomers) + len(staff.members))]


def test_parallel_confirmations_of_one_upload_import_it_once(server, context, mailbox):
    staff = _staff("one-upload.example", managers=1, newcomers=20, members=1)
    upload, requests = _confirmations(staff, staff.managers[0], copies=8)

    answers = server.burst(requests)

    preview = f"/institutions/{staff.institution.id}/enrolments/imports/{upload.id}"
    assert {(answer.status, answer.location) for answer in answers} == {(302, preview)}
    told = Counter(message for answer in answers for message in answer.flashes)
    assert told == {staff.imported: 1, "This file has already been imported; here is what was done.": 7}
    _assert_imported_once(staff, mailbox)
    db.session.refresh(upload)
    assert upload.status == BulkImport.IMPORTED and upload.result["invited"] == 20


@pytest.mark.parametrize("newcomers, members", [(20, 1), (0, 20)], ids=["new-people", "members-only"])
def test_two_managers_confirming_the_same_file_at_once_import_it_once(server, context, mailbox, newcomers, members):
    staff = _staff(f"{newcomers}-{members}.two-uploads.example", managers=2, newcomers=newcomers, members=members)
    uploads, requests = [], []
    for manager in staff.managers:
        upload, confirmations = _confirmations(staff, manager, copies=5)
        uploads.append(upload)
        requests += confirmations

    answers = server.burst(requests)

    assert all(answer.status == 302 for answer in answers)
    told = Counter(message for answer in answers for message in answer.flashes)
    assert told[staff.imported] == 1 and sum(told.values()) == len(answers), told  # one message each
    refusals = ("This file has already been imported", "Nothing was imported: something has changed")
    assert all(message.startswith(refusals) for message in told if message != staff.imported), told
    _assert_imported_once(staff, mailbox)
    statuses = Counter(db.session.scalars(db.select(BulkImport.status).where(
        BulkImport.id.in_([upload.id for upload in uploads]))))
    assert statuses == {BulkImport.IMPORTED: 1, BulkImport.PREVIEW: 1}
