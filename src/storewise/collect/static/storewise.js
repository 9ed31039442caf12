/*! storewise.js - shop events and recommendation widgets for a storewise server.
 * No dependencies, no external assets. Apache-2.0.
 *
 *   storewise.init({key: "sw_...", endpoint: "https://reco.shop.example"});
 *   storewise.consent({analytics: true, personalization: true, marketing: false});
 *   storewise.track("view_item", {item_id: "SKU-1", price: 9.5});
 *   storewise.identify("customer-42", sig);   // at login; sig from the shop's server
 *   <div data-storewise="for-you" data-n="8"></div>
 *
 * Nothing is sent and no cookie is set before analytics consent. Every public function
 * catches its own errors: the snippet never breaks the page it runs in.
 */
(function (w, d) {
  "use strict";
  var VERSION = "1.1.0";
  var previous = w.storewise;
  if (previous && previous.version) return; // loaded twice: the first copy stays

  var COOKIE = "sw_aid";
  var STORE = "sw_state";
  var COOKIE_DAYS = 395;
  var BATCH = 20;
  var MAX_QUEUE = 200;
  var FLUSH_MS = 1000;
  var PURPOSES = ["analytics", "personalization", "marketing"];
  var scriptSrc = d.currentScript && d.currentScript.src;

  var cfg = null;
  var consent = { analytics: false, personalization: false, marketing: false };
  var queue = [];
  var timer = null;
  var inflight = false;
  var backoff = 0;
  var observer = null;
  var styled = false;

  function report(error) {
    if (cfg && cfg.debug && w.console) w.console.warn("storewise:", error);
  }

  function guard(fn) {
    return function () {
      try {
        return fn.apply(null, arguments);
      } catch (error) {
        report(error);
      }
    };
  }

  function now() {
    return Date.now();
  }

  function randomId(bytes) {
    var out = "";
    var c = w.crypto;
    if (c && c.getRandomValues) {
      var a = new Uint8Array(bytes);
      c.getRandomValues(a);
      for (var i = 0; i < a.length; i++) out += (a[i] + 256).toString(16).slice(1);
      return out;
    }
    while (out.length < bytes * 2) out += Math.random().toString(16).slice(2);
    return out.slice(0, bytes * 2);
  }

  // -- first-party state: the anonymous id cookie and a little local state, after consent --
  function readCookie(name) {
    var parts = ("; " + d.cookie).split("; " + name + "=");
    return parts.length > 1 ? parts.pop().split(";")[0] : null;
  }

  function writeCookie(name, value, seconds) {
    d.cookie =
      name + "=" + value + "; Path=/; Max-Age=" + seconds + "; SameSite=Lax" +
      (w.location.protocol === "https:" ? "; Secure" : "");
  }

  function anonymousId(create) {
    var id = readCookie(COOKIE);
    if (id && /^[A-Za-z0-9._-]{8,100}$/.test(id)) return id;
    if (!create || !consent.analytics) return null;
    id = randomId(16);
    writeCookie(COOKIE, id, COOKIE_DAYS * 86400);
    return id;
  }

  function loadState() {
    try {
      return JSON.parse(w.localStorage.getItem(STORE) || "{}") || {};
    } catch (error) {
      return {};
    }
  }

  function saveState(patch) {
    if (!consent.analytics) return;
    try {
      var state = loadState();
      for (var k in patch) state[k] = patch[k];
      state.queue = queue.slice(0, MAX_QUEUE);
      w.localStorage.setItem(STORE, JSON.stringify(state));
    } catch (error) {
      report(error);
    }
  }

  function forget() {
    queue = [];
    writeCookie(COOKIE, "", 0);
    try {
      w.localStorage.removeItem(STORE);
    } catch (error) {
      report(error);
    }
  }

  // -- sending: batches, sendBeacon when the page goes away, retries with the same ids ------
  function post(body, beacon) {
    var url = cfg.endpoint + "/v1/collect";
    if (beacon && w.navigator.sendBeacon) {
      var blob = new Blob([body], { type: "text/plain;charset=UTF-8" });
      if (w.navigator.sendBeacon(url, blob)) return null;
    }
    if (!w.fetch) return null;
    return w.fetch(url, {
      method: "POST",
      body: body,
      keepalive: body.length < 60000,
      credentials: "omit",
      mode: "cors",
      headers: { "Content-Type": "text/plain;charset=UTF-8" }
    });
  }

  function flush(beacon) {
    if (!cfg || !consent.analytics || !queue.length || (inflight && !beacon)) return;
    clearTimeout(timer);
    timer = null;
    var rows = queue.splice(0, BATCH);
    var hadIdentify = rows.some(function (r) {
      return r.type === "identify";
    });
    var body = JSON.stringify({
      key: cfg.key,
      anonymous_id: anonymousId(true),
      sent_at: now(),
      events: rows
    });
    var sent = post(body, beacon);
    if (!sent) {
      saveState({});
      if (queue.length) flush(beacon);
      return;
    }
    inflight = true;
    sent.then(
      function (response) {
        inflight = false;
        if (response.status === 429 || response.status >= 500) return retry(rows);
        backoff = 0; // accepted, or refused for good (the answer says why, row by row)
        saveState({});
        if (hadIdentify) render();
        if (queue.length) schedule(0);
      },
      function () {
        inflight = false;
        retry(rows);
      }
    ).catch(report);
  }

  function retry(rows) {
    queue = rows.concat(queue).slice(0, MAX_QUEUE);
    backoff = Math.min(backoff ? backoff * 2 : 2000, 60000);
    saveState({});
    schedule(backoff);
  }

  function schedule(ms) {
    if (timer === null) timer = setTimeout(guard(flush), ms === undefined ? FLUSH_MS : ms);
  }

  function push(row) {
    if (!cfg || !consent.analytics) return false;
    row.event_id = row.event_id || randomId(12);
    row.ts = now();
    queue.push(row);
    if (queue.length > MAX_QUEUE) queue.shift();
    saveState({});
    schedule(queue.length >= BATCH ? 0 : undefined);
    return true;
  }

  // -- the public functions ---------------------------------------------------------------
  function init(options) {
    options = options || {};
    if (!options.key) throw new Error("storewise.init needs {key}");
    var endpoint = options.endpoint || (scriptSrc ? new URL(scriptSrc).origin : w.location.origin);
    cfg = {
      key: String(options.key),
      endpoint: String(endpoint).replace(/\/+$/, ""),
      debug: !!options.debug,
      nonce: options.nonce
    };
    if (anonymousId(false)) {
      // Consent was given on an earlier page: the cookie exists only then.
      var state = loadState();
      consent.analytics = true;
      consent.personalization = state.consent ? !!state.consent.personalization : true;
      consent.marketing = state.consent ? !!state.consent.marketing : false;
      queue = (state.queue || []).slice(0, MAX_QUEUE);
      if (queue.length) schedule(0);
    }
    if (options.consent) setConsent(options.consent);
    style();
    var first = guard(function () {
      render();
    });
    if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", first);
    else first();
    var away = guard(function () {
      flush(true);
    });
    w.addEventListener("pagehide", away);
    d.addEventListener("visibilitychange", function () {
      if (d.visibilityState === "hidden") away();
    });
  }

  function setConsent(decisions) {
    decisions = decisions || {};
    var had = consent.analytics;
    var changed = false;
    PURPOSES.forEach(function (p) {
      if (typeof decisions[p] === "boolean" && decisions[p] !== consent[p]) {
        consent[p] = decisions[p];
        changed = true;
      }
    });
    var state = loadState();
    if (!consent.analytics) {
      var id = readCookie(COOKIE);
      if (had && id && state.identified && cfg) {
        // A withdrawal is recorded for the customer; then nothing more is sent.
        var sent = post(JSON.stringify({
          key: cfg.key,
          anonymous_id: id,
          sent_at: now(),
          events: [{ type: "consent", event_id: randomId(12), ts: now(), consent: copy(consent) }]
        }), true);
        if (sent) sent.catch(report);
      }
      forget();
    } else {
      anonymousId(true);
      var last = JSON.stringify(state.consent || {});
      if (state.identified && last !== JSON.stringify(consent)) {
        push({ type: "consent", consent: copy(consent) });
      }
      saveState({ consent: copy(consent) });
    }
    if (changed && cfg) render();
  }

  function copy(decisions) {
    return {
      analytics: decisions.analytics,
      personalization: decisions.personalization,
      marketing: decisions.marketing
    };
  }

  function number(value) {
    var n = Number(value);
    return value === undefined || value === null || value === "" || !isFinite(n) ? undefined : n;
  }

  function track(type, props) {
    if (!cfg || !consent.analytics) return;
    props = props || {};
    type = String(type || "").toLowerCase();
    var id = randomId(12);
    var lines = props.items && props.items.length ? props.items : [props];
    lines.forEach(function (line, i) {
      push({
        type: type,
        event_id: lines.length > 1 ? id + "." + i : id,
        item_id: line.item_id !== undefined ? String(line.item_id) : undefined,
        quantity: number(line.quantity),
        price: number(line.price),
        order_id: props.transaction_id !== undefined ? String(props.transaction_id) : undefined,
        query: props.search_term
      });
    });
  }

  function identify(customerId, signature) {
    if (!cfg || !consent.analytics || customerId === undefined || customerId === null) return;
    if (push({ type: "identify", customer_id: String(customerId),
               signature: signature === undefined ? undefined : String(signature),
               consent: copy(consent) })) {
      saveState({ identified: true, consent: copy(consent) });
      flush();
    }
  }

  function reset() {
    var on = consent.analytics;
    forget();
    if (on) anonymousId(true);
  }

  // -- widgets ----------------------------------------------------------------------------
  var CSS =
    ".sw-list{display:grid;grid-template-columns:repeat(var(--storewise-columns,4),minmax(0,1fr));" +
    "gap:var(--storewise-gap,12px);font-family:var(--storewise-font,inherit);" +
    "color:var(--storewise-color,inherit)}" +
    ".sw-heading{grid-column:1/-1;margin:0;font-size:var(--storewise-heading-size,1.1em)}" +
    ".sw-item{display:flex;flex-direction:column;gap:4px;text-decoration:none;color:inherit;" +
    "background:var(--storewise-card,transparent);border-radius:var(--storewise-radius,6px);" +
    "padding:var(--storewise-padding,0)}" +
    ".sw-img{width:100%;aspect-ratio:var(--storewise-image-ratio,1);object-fit:cover;" +
    "border-radius:var(--storewise-radius,6px);background:var(--storewise-placeholder,#eee)}" +
    ".sw-title{font-weight:600}" +
    ".sw-price{color:var(--storewise-accent,inherit)}" +
    ".sw-why{font-size:.85em;color:var(--storewise-muted,#666)}";

  function style() {
    if (styled || !d.head) return;
    var el = d.createElement("style");
    if (cfg.nonce) el.nonce = cfg.nonce;
    el.setAttribute("data-storewise-style", VERSION);
    el.textContent = CSS;
    d.head.appendChild(el);
    styled = true;
  }

  function make(tag, cls, text) {
    var el = d.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined && text !== null) el.textContent = String(text);
    return el;
  }

  function money(price, currency) {
    if (price === null || price === undefined) return "";
    try {
      if (currency) {
        return new Intl.NumberFormat(d.documentElement.lang || undefined, {
          style: "currency",
          currency: currency
        }).format(price);
      }
    } catch (error) {
      report(error);
    }
    return Number(price).toFixed(2);
  }

  function feedback(type, recommendationId, itemId) {
    push({ type: type, recommendation_id: recommendationId, item_id: itemId });
  }

  function watch(list, recommendationId) {
    if (!consent.analytics) return;
    if (!w.IntersectionObserver) return feedback("rec_impression", recommendationId);
    if (!observer) {
      observer = new IntersectionObserver(
        guard(function (entries) {
          entries.forEach(function (entry) {
            if (!entry.isIntersecting) return;
            observer.unobserve(entry.target);
            feedback("rec_impression", entry.target.getAttribute("data-recommendation-id"));
          });
        }),
        { threshold: 0.5 }
      );
    }
    observer.observe(list);
  }

  function draw(el, data) {
    el.textContent = "";
    var items = data.items || [];
    el.setAttribute("data-storewise-state", items.length ? "ready" : "empty");
    if (!items.length) return;
    var list = make("div", "sw-list");
    list.setAttribute("data-recommendation-id", data.recommendation_id);
    var heading = el.getAttribute("data-title");
    if (heading) list.appendChild(make("h3", "sw-heading", heading));
    var template = el.getAttribute("data-href");
    items.forEach(function (item) {
      var a = make("a", "sw-item");
      a.href =
        item.url ||
        (template ? template.replace("{item_id}", encodeURIComponent(item.item_id)) : "#");
      a.setAttribute("data-item-id", item.item_id);
      if (item.image_url) {
        var img = make("img", "sw-img");
        img.src = item.image_url;
        img.alt = "";
        img.loading = "lazy";
        a.appendChild(img);
      } else {
        a.appendChild(make("div", "sw-img"));
      }
      a.appendChild(make("span", "sw-title", item.title));
      a.appendChild(make("span", "sw-price", money(item.price, item.currency)));
      if (item.reasons && item.reasons.length) a.appendChild(make("span", "sw-why", item.reasons[0]));
      a.addEventListener(
        "click",
        guard(function () {
          feedback("rec_click", data.recommendation_id, item.item_id);
          flush(true);
        })
      );
      list.appendChild(a);
    });
    el.appendChild(list);
    el.setAttribute("data-recommendation-id", data.recommendation_id);
    watch(list, data.recommendation_id);
  }

  function load(el) {
    var placement = el.getAttribute("data-storewise");
    var q = "placement=" + encodeURIComponent(placement) +
      "&n=" + encodeURIComponent(el.getAttribute("data-n") || "8") +
      "&key=" + encodeURIComponent(cfg.key);
    var item = el.getAttribute("data-item");
    var items = el.getAttribute("data-items");
    if (item) q += "&item=" + encodeURIComponent(item);
    if (items) q += "&items=" + encodeURIComponent(items);
    var id = consent.analytics && consent.personalization ? anonymousId(false) : null;
    if (id) q += "&anonymous_id=" + encodeURIComponent(id);
    if (!w.fetch) return;
    el.setAttribute("data-storewise-state", "loading");
    w.fetch(cfg.endpoint + "/v1/public/recommendations?" + q, { credentials: "omit", mode: "cors" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(guard(function (data) {
        if (data) draw(el, data);
        else el.setAttribute("data-storewise-state", "failed");
      }))
      .catch(report);
  }

  function render(root) {
    if (!cfg) return;
    var base = root && root.querySelectorAll ? root : d;
    var nodes = base.querySelectorAll("[data-storewise]");
    for (var i = 0; i < nodes.length; i++) load(nodes[i]);
  }

  var api = {
    version: VERSION,
    init: guard(init),
    consent: guard(setConsent),
    track: guard(track),
    identify: guard(identify),
    reset: guard(reset),
    flush: guard(function () {
      flush(false);
    }),
    render: guard(render)
  };
  w.storewise = api;
  // Calls made before the file loaded (the async stub's queue) run now, in order.
  var early = previous && previous.q ? previous.q : [];
  for (var i = 0; i < early.length; i++) {
    var call = early[i];
    if (api[call[0]] && call[0] !== "version") api[call[0]].apply(null, call[1]);
  }
})(window, document);
