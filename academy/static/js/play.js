/*
 * The participant's play page, live: new injects, closed injects, the role log, the session status and
 * clock arrive over the stream (live.js); answers are sent with fetch. The page works without it: every
 * form posts normally and a reload shows everything.
 */
(function () {
  "use strict";

  var root = document.getElementById("play");
  if (!root || !window.AcademyLive || !window.fetch) {
    return;
  }
  var me = Number(root.dataset.participantId);
  var feed = document.getElementById("feed");
  var feedEmpty = document.getElementById("feed-empty");
  var announcer = document.getElementById("feed-announcer");
  var badge = document.getElementById("session-status");
  var clock = document.getElementById("exercise-clock");
  var connection = document.getElementById("connection-state");
  var roleLog = document.getElementById("role-log");
  var logEmpty = document.getElementById("log-empty");
  var logTemplate = document.getElementById("log-entry-template");
  var roleChanged = document.getElementById("role-changed");
  var lobbyNote = document.getElementById("lobby-note");
  var endedNote = document.getElementById("session-ended");
  var ended = badge.dataset.status === "ended";

  function label(element, name) {
    return element.getAttribute("data-label-" + name) || "";
  }

  // The exercise clock: display only, frozen while paused; the server's events set it right.
  var elapsed = Number(clock.dataset.elapsed) || 0;
  var running = clock.dataset.running === "1";
  var since = Date.now();

  var formatClock = window.AcademyLive.formatClock;

  function showClock() {
    clock.textContent = formatClock(elapsed + (running ? (Date.now() - since) / 1000 : 0));
  }

  function setStatus(status, seconds) {
    elapsed = seconds;
    running = status === "running";
    since = Date.now();
    clock.dataset.running = running ? "1" : "0";
    showClock();
    if (badge.dataset.status !== status && label(badge, status)) {
      badge.classList.remove(badge.getAttribute("data-style-" + badge.dataset.status));
      badge.classList.add(badge.getAttribute("data-style-" + status));
      badge.dataset.status = status;
      badge.textContent = label(badge, status);
    }
    // The page follows the session as a reload would show it: no "not started" once started, the end and the
    // way to the debrief once ended.
    if (lobbyNote && status !== "lobby") {
      lobbyNote.remove();
      lobbyNote = null;
    }
    if (status === "ended" && !ended) {
      ended = true;
      endedNote.classList.remove("d-none");
      connection.textContent = label(connection, "ended");
    }
  }

  window.setInterval(showClock, 1000);

  // Inject cards: the server renders them, the page inserts or replaces them.
  function cardUrl(injectId) {
    return root.dataset.cardUrl.replace("__inject__", encodeURIComponent(injectId));
  }

  function cardOf(injectId) {
    return document.getElementById("inject-" + injectId);
  }

  function fromHtml(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html.trim();
    return holder.content.firstElementChild;
  }

  function focusTitle(card) {
    var title = card.querySelector(".card-title");
    title.setAttribute("tabindex", "-1");
    title.focus();
  }

  function putCard(html) {
    var card = fromHtml(html);
    if (!card) {
      return null;
    }
    var existing = document.getElementById(card.id);
    if (existing) {
      // Replacing the card that holds the focus would drop it onto <body>: hand it to the new card instead.
      var hadFocus = existing.contains(document.activeElement);
      existing.replaceWith(card);
      if (hadFocus) {
        focusTitle(card);
      }
    } else {
      feed.insertBefore(card, feed.firstElementChild);
      feedEmpty.classList.add("d-none");
    }
    return card;
  }

  function showCard(html, title) {
    if (html && putCard(html) && title) {
      announcer.textContent = label(root, "new-inject").replace("{title}", title);
    }
  }

  function loadCard(injectId, title) {
    return fetch(cardUrl(injectId), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { showCard(html, title); })
      .catch(function () { /* the next event or a reload shows it */ });
  }

  // A card that came with the event was rendered once for every participant: it carries this page's token.
  function withToken(html) {
    return html.split("__csrf__").join(root.dataset.csrfToken);
  }

  function closeForms() {
    Array.prototype.forEach.call(feed.querySelectorAll(".decision-form"), function (form) {
      var note = document.createElement("p");
      note.className = "text-body-secondary mb-0";
      note.textContent = label(root, "ended");
      var hadFocus = form.contains(document.activeElement);
      var card = form.closest("article");
      form.replaceWith(note);
      if (hadFocus) {
        focusTitle(card);
      }
    });
  }

  function hasDraft() {
    return Array.prototype.some.call(feed.querySelectorAll(".decision-form textarea"), function (area) {
      return area.value.trim() !== "";
    });
  }

  // The shared role log.
  function addLogEntry(entry) {
    var item = logTemplate.content.firstElementChild.cloneNode(true);
    item.dataset.injectId = entry.inject_id;
    item.querySelector(".entry-time").textContent = label(root, "time").replace("{time}",
      formatClock(entry.exercise_seconds));
    item.querySelector(".entry-name").textContent = entry.name;
    item.querySelector(".entry-inject").textContent = entry.inject_title;
    item.querySelector(".entry-option").textContent = entry.option_text;
    item.querySelector(".entry-rationale").textContent = entry.rationale;
    roleLog.insertBefore(item, roleLog.firstElementChild);
    logEmpty.classList.add("d-none");
  }

  function onEvent(kind, data) {
    var payload = data.payload || {};
    if (kind.indexOf("session.") === 0) {
      setStatus(data.status, data.elapsed_seconds);
      if (kind === "session.ended") {
        closeForms();
      }
    } else if (kind === "inject.released") {
      if (cardOf(payload.inject_id)) {
        return;
      }
      if (data.card_html) {
        showCard(withToken(data.card_html), data.title);
      } else {
        loadCard(payload.inject_id, data.title);
      }
    } else if (kind === "inject.closed") {
      var open = cardOf(payload.inject_id);
      if (open && data.card_html && !open.dataset.answered) {
        putCard(withToken(data.card_html));
      } else if (open) {
        loadCard(payload.inject_id);  // an answered card keeps the answer, which only this participant's copy has
      }
    } else if (kind === "decision.submitted") {
      if (data.entry) {
        addLogEntry(data.entry);
      }
      if (payload.participant_id === me && cardOf(payload.inject_id)) {
        loadCard(payload.inject_id);  // answered in another tab or window
      }
    } else if (kind === "role.assigned" && payload.participant_id === me) {
      if (hasDraft()) {
        roleChanged.classList.remove("d-none");
      } else {
        window.location.reload();
      }
    }
  }

  function onStatus(state) {
    connection.textContent = label(connection, ended ? "ended" : state);
  }

  // Answers: sent with fetch; the server's card replaces the form, or its message shows above the form.
  function showError(form, message) {
    var box = form.querySelector(".decision-error");
    var alert = document.createElement("div");
    alert.className = "alert alert-danger py-2";
    alert.textContent = message;
    box.replaceChildren(alert);
  }

  function setBusy(button, busy) {
    button.classList.toggle("disabled", busy);
    if (busy) {
      button.setAttribute("aria-disabled", "true");
    } else {
      button.removeAttribute("aria-disabled");
    }
  }

  feed.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("decision-form")) {
      return;
    }
    event.preventDefault();
    var button = form.querySelector("[type=submit]");
    // Marked busy rather than disabled: a disabled button drops the keyboard focus onto <body>.
    if (button.getAttribute("aria-disabled") === "true") {
      return;
    }
    setBusy(button, true);
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.card_html) {
          var card = putCard(body.card_html);
          if (card) {
            focusTitle(card);
          }
          return;
        }
        showError(form, body.message);
        setBusy(button, false);
      })
      .catch(function () {
        showError(form, label(root, "network-error"));
        setBusy(button, false);
      });
  });

  roleChanged.addEventListener("click", function (event) {
    if (event.target.closest("[data-action=reload]")) {
      window.location.reload();
    }
  });

  window.AcademyLive.connect(root.dataset.streamUrl, {
    after: Number(root.dataset.lastEventId) || 0,
    onEvent: onEvent,
    onStatus: onStatus
  });
}());
