"""A small valid exercises/ folder: one scenario that meets every rule, for tests to load or break in one place."""
from pathlib import Path

from tests.content_fixture import ContentFolder

SCENARIO = "fixture-scenario.yml"

# At the minimum on purpose: the cert role sees exactly 4 injects (two of them "all") and faces exactly 3
# decisions, and there are exactly 12 injects, so that one edit breaks one rule.
SCENARIO_YML = """\
slug: fixture-scenario
title: A small scenario for the tests
summary: A botnet floods a bank and the e-government portal.
duration_minutes: 60
audience: National CERT, foreign ministry and bank operators.
sections: ["§1", "§3.3"]
notice: EXERCISE. Everything here is invented.

roles:
  - code: diplomat
    title: Ministry of Foreign Affairs
    brief: You answer foreign notes.
  - code: cert
    title: National CERT
    brief: You run the technical picture.
  - code: operator
    title: Bank operations
    brief: You keep the bank online.

objectives:
  - code: dip-consult
    role: diplomat
    title: Consult before blaming
    criteria:
      - The neighbour is consulted before any public statement
    modules: [first-module]
  - code: cert-share
    role: cert
    title: Share indicators within the hour
    criteria:
      - Indicators reach the neighbouring CERT within 60 minutes
    modules: [first-module]
  - code: op-keep-running
    role: operator
    title: Keep the bank running
    criteria:
      - Online banking is back within the exercise
    modules: [first-module]

injects:
  - id: alert-bank-portal
    offset: 0
    phase: detection
    title: Online banking portal unreachable
    audience: [cert, operator]
    body: The monitoring shows the portal down.
    artefacts:
      - kind: alert
        title: NOC dashboard
        source: Bank operations centre
        body: HTTP 503 on all front ends.
    decision:
      prompt: What do you do first?
      options:
        - id: call-neighbour
          text: Call the neighbouring CERT
          scores: {cert-share: 3}
          consequence: The neighbour confirms the same botnet.
          unlocks: [neighbour-confirms]
        - id: wait
          text: Wait for more certainty
          scores: {cert-share: -1}
          consequence: Two hours pass.
    facilitator:
      notes: Watch who calls whom.
      expected_actions: [Contact the neighbouring CERT]
      sections: ["§3.3"]
  - id: bank-call
    offset: 5
    phase: detection
    title: The bank calls
    audience: [operator]
    body: The bank asks for help.
    decision:
      prompt: How do you filter the traffic?
      options:
        - id: scrub
          text: Send the traffic to the scrubbing service
          scores: {op-keep-running: 2}
          consequence: Customers log in again.
        - id: shut-down
          text: Take the portal off line
          scores: {op-keep-running: -2}
          consequence: Nobody can log in.
    facilitator:
      notes: Steer towards the scrubbing contract.
      expected_actions: [Activate scrubbing]
      sections: ["§1"]
  - id: embassy-note
    offset: 8
    phase: detection
    title: A note from the neighbour's embassy
    audience: [diplomat]
    body: The neighbour asks what is going on.
    decision:
      prompt: How do you answer?
      options:
        - id: consult
          text: Offer consultations
          scores: {dip-consult: 3}
          consequence: The neighbour accepts.
        - id: blame
          text: Blame the neighbour in public
          scores: {dip-consult: -3}
          consequence: Tension rises.
    facilitator:
      notes: Consultations first.
      expected_actions: [Offer consultations]
      sections: ["§3.3"]
  - id: neighbour-confirms
    offset: 10
    phase: detection
    title: The neighbour confirms
    audience: [cert]
    body: The neighbouring CERT sees the same botnet.
    follow_up: true
    facilitator:
      notes: Released when the CERT calls the neighbour.
      expected_actions: [Exchange indicators]
      sections: ["§1"]
  - id: news-report
    offset: 15
    phase: spread
    title: The press has the story
    audience: [diplomat, operator]
    body: A news site reports the outage.
    artefacts:
      - kind: news
        title: Portal down
        source: Daily Invented
        body: Citizens cannot file taxes.
    facilitator:
      notes: Let the pressure build.
      expected_actions: [Prepare a holding line]
      sections: ["§1"]
  - id: operator-log
    offset: 20
    phase: spread
    title: Firewall log excerpt
    audience: [operator]
    body: The log shows the attack sources.
    decision:
      prompt: What do you keep as evidence?
    facilitator:
      notes: Evidence matters for the police.
      expected_actions: [Preserve the logs]
      sections: ["§1"]
  - id: diplomat-call
    offset: 25
    phase: spread
    title: The minister calls
    audience: [diplomat]
    body: The minister wants a line for the press.
    decision:
      prompt: What do you advise?
    facilitator:
      notes: No attribution yet.
      expected_actions: [Advise caution]
      sections: ["§3.3"]
  - id: joint-meeting
    offset: 30
    phase: crisis
    title: Crisis meeting
    audience: all
    body: Everyone meets at the government's crisis cell.
    decision:
      prompt: Who leads?
      options:
        - id: coordinate
          text: Coordinate through the CERT
          scores: {dip-consult: 1, cert-share: 1, op-keep-running: 1}
          consequence: One picture for everyone.
        - id: go-alone
          text: Each works alone
          scores: {cert-share: -1}
          consequence: Three different pictures.
    facilitator:
      notes: Coordination is the point.
      expected_actions: [Agree on one lead]
      sections: ["§1"]
  - id: press-question
    offset: 40
    phase: crisis
    title: A journalist calls you
    audience: participant
    body: A journalist wants a comment.
    facilitator:
      notes: Pick one person.
      expected_actions: [Refer to the spokesperson]
      sections: ["§1"]
  - id: recovery-plan
    offset: 50
    phase: recovery
    title: Back to normal
    audience: all
    body: The attack fades.
    decision:
      prompt: What do you change for next time?
    facilitator:
      notes: Collect lessons.
      expected_actions: [Write down lessons learned]
      sections: ["§1"]
  - id: minister-briefing
    offset: 55
    phase: recovery
    title: Brief the minister
    audience: [diplomat]
    body: The minister wants a summary.
    facilitator:
      notes: Short and factual.
      expected_actions: [Brief the minister]
      sections: ["§3.3"]
  - id: wrap-up
    offset: 60
    phase: recovery
    title: End of exercise
    audience: [diplomat, operator]
    body: The exercise ends.
    facilitator:
      notes: Close the exercise.
      expected_actions: [Thank everyone]
      sections: ["§1"]

debrief:
  - question: Which channel would you use next time, and why?
    modules: [first-module]
"""

README = "# Scenarios\n\nNot a scenario: the checker skips this file.\n"


class ScenarioFolder(ContentFolder):
    """A small valid exercises/ folder beside the fixture courses/ tree; the same helpers to break it."""

    def __init__(self, root: Path):
        # Not the parent's: that writes a course tree, which tests build with their own ContentFolder.
        self.folder = root / "exercises"
        self.write("README.md", README)
        self.write(SCENARIO, SCENARIO_YML)

    def error(self, name: str, line: int, message: str) -> str:
        return f"exercises/{name}:{line}: {message}"
