/* Clientside callbacks of tdacnn's Explore view (tdacnn/app/explore.py registers them as
 * window.dash_clientside.tdacnnExplore.*): the overlay over the graph, fitting a new graph,
 * the automatic controls, zoom buttons, the URL and session files. */
(function () {
  'use strict';

  var nu = function () { return window.dash_clientside.no_update; };

  function graphPart(request) {
    // the parts of a request that make the graph (the persistence settings only draw the barcode)
    if (!request || request.error) { return null; }
    return JSON.stringify([request.source, request.cloud, request.density, request.mapper, request.auto || null]);
  }

  function graphCy() {
    var el = document.getElementById('explore-graph');
    return el && el._cyreg ? el._cyreg.cy : null;
  }

  function describe(request) {
    var c = request.cloud || {};
    var parts = [(c.layer === null || c.layer === undefined) ? 'the first layer' : 'layer ' + c.layer];
    if (c.iteration === null || c.iteration === undefined) {
      parts.push('the last iteration');
    } else if (c.iteration >= 0) {  // a checkpoint's weights have no iteration (-1): none is named
      parts.push('iteration ' + c.iteration);
    }
    return parts.join(' · ') + ' of ' + request.source;
  }

  var api = {
    /* a request for another graph → "computing …" over the (dimmed) graph on the page; its summary dims */
    markBusy: function (request, memory) {
      if (!request || request.error) { return [nu(), nu(), nu()]; }
      if (memory && !memory.error && graphPart(memory.request) === graphPart(request)) { return [nu(), nu(), nu()]; }
      return ['computing the graph of ' + describe(request) + ' …', 'graph-overlay busy', 'summary stale'];
    },

    /* a graph was drawn (or failed) → fit it to the view, the overlay, the values computed from the
       data into the automatic controls */
    afterGraph: function (memory, auto, config) {
      var values = Array.prototype.slice.call(arguments, 3);
      var names = (config && config.auto) || [];
      var keep = names.map(function () { return nu(); });
      if (!memory) { return [nu(), '', 'graph-overlay', 'summary'].concat(keep); }
      if (memory.error) { return [nu(), memory.error, 'graph-overlay error', 'summary'].concat(keep); }
      var layout = {name: 'preset', fit: true, padding: 30, animate: false, graph: memory.stamp};
      var resolved = memory.resolved || {};
      var isAuto = new Set(auto || []);
      var outs = names.map(function (name, i) {
        var v = resolved[name];
        return (isAuto.has(name) && v !== undefined && v !== null && v !== values[i]) ? v : nu();
      });
      var message = memory.message || '';
      return [layout, message, message ? 'graph-overlay note' : 'graph-overlay', 'summary'].concat(outs);
    },

    /* automatic names → each automatic control's wrapper class (shows "auto" or the "auto" button) */
    autoMarks: function (auto, config) {
      var isAuto = new Set(auto || []);
      return ((config && config.auto) || []).map(function (name) {
        return 'ctl ' + (isAuto.has(name) ? 'is-auto' : 'is-explicit');
      });
    },

    /* the view's query, tab and barcode mode → the address bar; keys of other parts (sel) are kept */
    writeUrl: function (query, tab, mode, config) {
      if (query === undefined || query === null || !config) { return nu(); }
      var owned = new Set(config.owned || []);
      var defaults = config.view_defaults || {};
      var ours = new URLSearchParams(query);
      if (tab && tab !== defaults.tab) { ours.set('tab', tab); }
      if (mode && mode !== defaults.mode) { ours.set('mode', mode); }
      new URLSearchParams(window.location.search).forEach(function (v, k) {
        if (!owned.has(k) && !ours.has(k)) { ours.append(k, v); }
      });
      var s = ours.toString();
      var search = s ? '?' + s : '';
      if (search !== window.location.search) {
        window.history.replaceState(window.history.state, '', window.location.pathname + search + window.location.hash);
      }
      return nu();
    },

    /* +, −, fit */
    zoom: function () {
      var cy = graphCy();
      var ctx = window.dash_clientside.callback_context;
      if (!cy || !ctx.triggered.length) { return nu(); }
      var which = ctx.triggered[0].prop_id.split('.')[0];
      if (which === 'explore-fit') {
        cy.fit(undefined, 30);
      } else {
        var level = cy.zoom() * (which === 'explore-zoom-in' ? 1.25 : 0.8);
        level = Math.min(cy.maxZoom(), Math.max(cy.minZoom(), level));
        cy.zoom({level: level, renderedPosition: {x: cy.width() / 2, y: cy.height() / 2}});
      }
      return nu();
    },

    /* "Save session" → a JSON file: the address bar (every key, the selection too) and the request, with
       the values the data gave for its automatic names when the graph on the page is the request's (not the
       stand-ins a request holds for them until the data decides: p 30 where 50 % was used) */
    saveSession: function (n, request, memory) {
      if (!n) { return nu(); }
      var saved = request ? JSON.parse(JSON.stringify(request)) : null;
      if (saved && memory && !memory.error && memory.resolved && graphPart(memory.request) === graphPart(request)) {
        Object.keys(memory.resolved).forEach(function (name) {
          var part = [saved.density, saved.mapper].find(function (p) { return p && name in p; });
          if (part) { part[name] = memory.resolved[name]; }
        });
      }
      var session = {format: 'tdacnn-session', version: 1, saved: new Date().toISOString(),
                     query: window.location.search, request: saved};
      return {content: JSON.stringify(session, null, 2), filename: 'tdacnn-session.json',
              type: 'application/json'};
    },

    /* a session file was read → open its view (a fresh page load: the same path as a shared link) */
    goto: function (data) {
      if (!data || typeof data.query !== 'string') { return nu(); }
      window.location.assign(window.location.pathname + data.query + window.location.hash);
      return nu();
    }
  };

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.tdacnnExplore = Object.assign({}, window.dash_clientside.tdacnnExplore, api);

  /* A number box reports what it holds on Enter and on blur.  Dash 4's number dcc.Input compares an
     entry with the value the box had when its key handler was made, not with its current value: after
     the page set a box (a link, a session), emptying it (back to automatic, no threshold) reported
     nothing, and typing the box's first value back (coeff 2 after ?coeff=3) was ignored — the box
     said one thing, the graph or barcode showed another. */
  function reportNumber(event) {
    var el = event.target;
    if (!el || el.tagName !== 'INPUT' || el.type !== 'number' || !/^explore-/.test(el.id || '')) { return; }
    if (event.type === 'keypress' && event.key !== 'Enter') { return; }
    if (!window.dash_clientside || !window.dash_clientside.set_props) { return; }
    if (el.validity && el.validity.badInput) { return; }  // not a number: Dash's own handler reports it
    var raw = el.value.trim();
    var value = raw === '' ? null : Number(raw);
    if (value === null || isFinite(value)) { window.dash_clientside.set_props(el.id, {value: value}); }
  }
  document.addEventListener('keypress', reportNumber, true);
  document.addEventListener('blur', reportNumber, true);
})();
