/* fazt track.js — client-side events for sites served by fazt.
 * <script src="https://admin.example.com/track.js" defer></script>
 * fazt.track('signup', {plan: 'pro', tags: ['beta']});
 * Sends {h, p, e, t, q, ref} to /track on the server this file came from, with
 * navigator.sendBeacon (fetch keepalive as a fallback). Page views are counted by the server
 * already; add data-pageview to the script tag to also send one from the client (SPAs). */
(function () {
  var script = document.currentScript;
  var base = '';
  try { base = new URL(script.src).origin; } catch (e) { base = ''; }

  function send(payload) {
    var body = JSON.stringify(payload);
    var url = base + '/track';
    try {
      // text/plain keeps the beacon a "simple" request: no CORS preflight.
      if (navigator.sendBeacon && navigator.sendBeacon(url, new Blob([body], { type: 'text/plain' }))) {
        return;
      }
    } catch (e) { /* fall through */ }
    try {
      fetch(url, { method: 'POST', body: body, keepalive: true, mode: 'no-cors',
        headers: { 'Content-Type': 'text/plain' } });
    } catch (e) { /* analytics must never break the page */ }
  }

  function track(event, data) {
    var q = {};
    var tags = [];
    data = data || {};
    for (var k in data) {
      if (!Object.prototype.hasOwnProperty.call(data, k)) continue;
      if (k === 'tags') {
        tags = [].concat(data.tags).map(String);
      } else if (data[k] !== undefined && data[k] !== null) {
        q[k] = String(data[k]);
      }
    }
    send({
      h: location.hostname,
      p: location.pathname,
      e: String(event || 'pageview'),
      t: tags,
      q: q,
      ref: document.referrer || ''
    });
  }

  window.fazt = window.fazt || {};
  window.fazt.track = track;
  if (script && script.hasAttribute('data-pageview')) track('pageview');
})();
