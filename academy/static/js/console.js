/* The trainer console: a ticking clock, live refresh of lobby, timeline and board, and actions without reload.
 *
 * Without this script the console still works: every action is a plain form and the page reloads.
 * Events from the live stream (window.AcademyLive, live.js) trigger a fetch of the server-rendered
 * regions ([data-live-region][id]), which replace the ones on the page.
 */
(function () {
  "use strict";

  var root = document.getElementById("console");
  if (!root) {
    return;
  }
  var messages = root.querySelector("[data-console-messages]");
  var liveStatus = document.querySelector("[data-live-status]");
  var POLL_SECONDS = 15;
  var clockTimer = null;
  var refreshTimer = null;
  var inFlight = false;
  var again = false;

  var formatClock = window.AcademyLive.formatClock;

  function startClock() {
    window.clearInterval(clockTimer);
    var clock = root.querySelector("[data-clock]");
    if (!clock || clock.dataset.running !== "true") {
      return;
    }
    var base = parseInt(clock.dataset.elapsed, 10) || 0;
    var since = Date.now();
    clockTimer = window.setInterval(function () {
      clock.textContent = formatClock(base + Math.floor((Date.now() - since) / 1000));
    }, 1000);
  }

  function say(text, ok) {
    if (!messages || !text) {
      return;
    }
    var alert = document.createElement("div");
    alert.className = "alert alert-dismissible fade show alert-" + (ok ? "success" : "danger");
    alert.setAttribute("role", "alert");
    alert.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", root.dataset.msgClose || "×");
    alert.appendChild(close);
    messages.replaceChildren(alert);
  }

  function setStatus(text) {
    if (liveStatus && text) {
      liveStatus.textContent = text;
    }
  }

  // Someone choosing in a select or ticking a box inside a region: do not pull it from under them.
  function busy(region) {
    var active = document.activeElement;
    return active && region.contains(active) && /^(SELECT|INPUT|TEXTAREA)$/.test(active.tagName);
  }

  // A choice the trainer made but has not sent yet (a role picked, a box ticked) survives the refresh.
  function unsent(field) {
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    if (field.type === "checkbox" || field.type === "radio") {
      return field.checked !== field.defaultChecked;
    }
    return field.type !== "hidden" && field.value !== field.defaultValue;
  }

  // Regions are morphed into the fresh ones (idiomorph, vendored): nodes that stay keep the keyboard focus (Pause
  // becomes Resume in the same button), unsent choices keep their values, and an opened <details> stays open. A
  // region with a field in use is not refreshed until the field is left (busy).
  var MORPH = {
    callbacks: {
      beforeAttributeUpdated: function (name, element, action) {
        if (name === "open" && element.tagName === "DETAILS") {
          return action !== "remove";
        }
        if ((name === "value" || name === "checked") && /^(INPUT|TEXTAREA)$/.test(element.tagName)) {
          return !unsent(element);
        }
        if (name === "selected" && element.tagName === "OPTION") {
          return !(element.parentElement && unsent(element.closest("select")));
        }
        return true;
      }
    }
  };

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var deferred = false;
    fresh.querySelectorAll("[data-live-region][id]").forEach(function (region) {
      var current = document.getElementById(region.id);
      if (!current) {
        return;
      }
      if (busy(current)) {
        deferred = true;
        current.addEventListener("focusout", function () { scheduleRefresh(300); }, { once: true });
        return;
      }
      window.Idiomorph.morph(current, region, MORPH);
    });
    if (!deferred) {
      refreshParticipantSelects();
    }
    startClock();
  }

  // The ad-hoc form's participant list follows the lobby.
  function refreshParticipantSelects() {
    var people = root.querySelectorAll("[data-participant-id]");
    root.querySelectorAll("select[data-participant-select]").forEach(function (select) {
      if (select === document.activeElement) {
        return;
      }
      var chosen = select.value;
      while (select.options.length > 1) {
        select.remove(1);
      }
      people.forEach(function (person) {
        select.add(new Option(person.dataset.participantName, person.dataset.participantId));
      });
      select.value = chosen;
    });
  }

  function refresh() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    fetch(root.dataset.boardUrl, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(swap)
      .catch(function () { setStatus(root.dataset.msgOffline); })
      .then(function () {
        inFlight = false;
        if (again) {
          again = false;
          scheduleRefresh(200);
        }
      });
  }

  // Many events can arrive at once (everyone answering): one refresh covers them all.
  function scheduleRefresh(delay) {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(refresh, delay);
  }

  // Button forms inside the live regions act through fetch; the JSON answer says what happened.
  function submitWithFetch(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.closest("[data-live-region]")) {
      return;
    }
    event.preventDefault();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) {
      data.append(event.submitter.name, event.submitter.value);
    }
    // Marked busy rather than disabled: a disabled button drops the keyboard focus onto <body>.
    if (form.getAttribute("aria-busy") === "true") {
      return;
    }
    var buttons = form.querySelectorAll("button");
    form.setAttribute("aria-busy", "true");
    buttons.forEach(function (button) { button.setAttribute("aria-disabled", "true"); button.classList.add("disabled"); });
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin",
                         headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (answer) { say(answer.message, answer.ok); })
      .catch(function () { say(root.dataset.msgFailed, false); })
      .then(function () {
        form.removeAttribute("aria-busy");
        buttons.forEach(function (button) { button.removeAttribute("aria-disabled"); button.classList.remove("disabled"); });
        refresh();
      });
  }

  function statusText(state) {
    if (state === "live") {
      return root.dataset.msgConnected;
    }
    if (state === "connecting" || state === "reconnecting") {
      return root.dataset.msgConnecting;
    }
    return root.dataset.msgOffline;
  }

  root.addEventListener("submit", submitWithFetch);
  startClock();
  if (window.AcademyLive && root.dataset.streamUrl) {
    window.AcademyLive.connect(root.dataset.streamUrl, {
      after: parseInt(root.dataset.lastEventId, 10) || 0,
      onEvent: function () { scheduleRefresh(250); },
      onStatus: function (state) {
        setStatus(statusText(state));
        if (state === "live") {
          scheduleRefresh(0);
        }
      }
    });
  } else {
    setStatus(root.dataset.msgPolling);
    window.setInterval(refresh, POLL_SECONDS * 1000);
  }
  // Scheduled injects go out on the server's clock: a quiet refresh now and then shows them even between events.
  window.setInterval(function () { scheduleRefresh(0); }, 60 * 1000);
}());
